import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Long texts and streams: gapless joins at a modest upstream speed, bounded memory, `speakctl --follow`.
final class LongTextTests: IntegrationTestCase {

    private func startDaemon(mock: [String], device: String = "default") throws -> (DaemonProcess, MockUpstream) {
        let upstream = try MockUpstream(mock, in: directory)
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path,
                                                   "--device", device], in: directory)
        self.upstream = upstream
        self.daemon = daemon
        // A client on the monitor keeps the null sink's latency low (see JobControlTests).
        if device == "default" { recorder = try SinkRecorder(in: directory) }
        return (daemon, upstream)
    }

    /// 20,000 characters from an upstream that streams at 1.5× real time: one job, several requests, and in the
    /// recording no silence longer than the upstream's own, no underrun.
    func testTwentyThousandCharactersAtOneAndAHalfTimesRealTimePlayWithoutAGap() throws {
        // 1 ms of audio per character; 4,800-byte chunks are 100 ms of audio, sent every 66.7 ms: 1.5× real time.
        let (daemon, upstream) = try startDaemon(mock: ["--ms-per-char", "1", "--chunks", "4800", "--chunk-delay", "0.0667"])
        var sentences: [String] = []
        var length = 0
        while length < 20_000 {
            let sentence = "Sentence number \(sentences.count + 1) goes on for a little while."
            sentences.append(sentence)
            length += sentence.count + 1
        }
        let text = sentences.joined(separator: " ")
        let client = try daemon.connect()
        let before = try XCTUnwrap(try client.request("status").status).underruns
        let job = try client.speak(text)
        var final: Event?
        while final == nil {
            let event = try client.nextEvent()
            if event.job == job, event.state?.isFinal == true { final = event }
        }
        XCTAssertEqual(final?.state, .finished, final?.reason ?? "")
        usleep(300_000)
        let recorded = try XCTUnwrap(recorder).stop()
        let status = try XCTUnwrap(try client.request("status").status)
        XCTAssertEqual(status.underruns - before, 0, "the device ran dry")

        let requests = try upstream.requests()
        XCTAssertGreaterThanOrEqual(requests.count, 5, "the text was not split into several requests")
        let allSent = requests.flatMap { SinkRecorder.samples(of: $0.pcm) }
        XCTAssertEqual(Double(allSent.count) / 24_000, 20, accuracy: 1.5)
        // Where the audio is in the recording, and its longest run of zeros (the null sink's silence is exact zeros).
        // A new PulseAudio stream's first milliseconds may come out as zeros in the monitor: compare from 20 ms in.
        let skip = 480
        let start = try XCTUnwrap(recorded.firstIndex(ofSequence: allSent[2_400..<2_640]), "the audio is not in the recording") - 2_400
        let heard = recorded[max(start + skip, 0)..<min(start + allSent.count, recorded.count)]
        let sent = allSent[skip...]
        XCTAssertEqual(heard.count, sent.count, "the recording ends early")
        XCTAssertLessThanOrEqual(heard.longestZeroRun, Swift.max(sent.longestZeroRun, 2),
                                 "a gap of \(heard.longestZeroRun) samples at a join")
        let mismatch = zip(heard, sent).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(mismatch, "samples lost, doubled or changed at the joins, first at \(skip + (mismatch ?? -1)) of \(skip + sent.count); request sizes \(requests.map { $0.pcm.count / 2 })")
    }

    /// Memory does not grow with the text: peak RSS after a 100,000-character job is within a few MB of the peak
    /// after a 1,000-character one (audio streams through the fixed-size ring; the text itself is 100 KB).
    func testMemoryStaysFlatFromAThousandToAHundredThousandCharacters() throws {
        let capture = directory.appendingPathComponent("capture.raw").path
        let (daemon, _) = try startDaemon(mock: ["--ms-per-char", "1"], device: "file:FILE=\(capture),FORMAT=raw")
        func speak(characters: Int) throws {
            let sentence = "This sentence is here to make the text long. "
            let text = String(String(repeating: sentence, count: characters / sentence.count + 1).prefix(characters))
            let result = try daemon.speakctl(["--wait"], stdin: Data(text.utf8))
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        try speak(characters: 1_000)
        let small = try daemon.peakResidentKilobytes()
        try speak(characters: 100_000)
        let large = try daemon.peakResidentKilobytes()
        XCTAssertLessThan(large - small, 6_144, "peak RSS grew from \(small) KiB to \(large) KiB")
        // 100,000 characters at 1 ms each: 100 s of audio went through.
        let written = try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int ?? 0
        XCTAssertGreaterThan(written, 2 * 24_000 * 95)
    }

    /// `speakctl --follow`: each sentence is heard while standard input is still open.
    func testFollowSpeaksEachSentenceBeforeInputEnds() throws {
        let (daemon, upstream) = try startDaemon(mock: ["--ms-per-char", "10"])
        let log = try EventLog(daemon: daemon)
        let process = try Subprocess(Harness.binDirectory.appendingPathComponent("speakctl").path, ["--follow"],
                                     environment: ["SPEAKD_SOCKET": daemon.socketPath], stdin: .pipe, stdout: .null)
        defer { if process.isRunning { process.terminate() } }

        func started(_ count: Int, within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if log.all.filter({ $0.state == .started }).count >= count { return true }
                usleep(10_000)
            }
            return false
        }
        process.write(Data("The first line is heard at once\n".utf8))
        XCTAssertTrue(started(1, within: 3), "a complete line was not spoken while input stayed open")
        process.write(Data("Then a sentence. And a".utf8))
        XCTAssertTrue(started(2, within: 3), "a complete sentence was not spoken while input stayed open")
        usleep(300_000)
        XCTAssertEqual(log.all.filter { $0.state == .queued }.count, 2, "an incomplete sentence was sent early")
        process.write(Data(" third, in pieces.".utf8))
        process.closeInput()

        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "speakctl --follow did not return after its input ended")
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: process.stderrSoFar, as: UTF8.self))
        // It returned once everything had been heard.
        let finished = log.all.filter { $0.state == .finished }
        XCTAssertEqual(finished.count, 3)
        let inputs = try upstream.requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["The first line is heard at once", "Then a sentence.", "And a third, in pieces."])
    }
}

extension Collection where Element == Int16 {
    /// Length of the longest run of zero samples.
    var longestZeroRun: Int {
        var longest = 0, current = 0
        for sample in self {
            current = sample == 0 ? current + 1 : 0
            longest = Swift.max(longest, current)
        }
        return longest
    }
}

extension DaemonProcess {
    /// The daemon's peak resident memory so far (VmHWM).
    func peakResidentKilobytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
