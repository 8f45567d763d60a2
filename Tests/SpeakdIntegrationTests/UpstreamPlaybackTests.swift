import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// speakd against the mock upstream, played into the ALSA `file` PCM (byte-exact, unpaced) and into a PulseAudio
/// null sink recorded with parec (paced like a real device).
final class UpstreamPlaybackTests: IntegrationTestCase {
    private func startDaemon(upstream: MockUpstream, device: String, key: String = "sk-test", extra: [String] = []) throws -> DaemonProcess {
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately(key + "\n", to: keyFile)
        return try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path,
                                             "--device", device] + extra, in: directory)
    }

    func testAwkwardChunksArriveByteExactAtTheDevice() throws {
        let upstream = try MockUpstream(["--expect-key", "sk-test", "--chunks", "1,3,4097"], in: directory)
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try startDaemon(upstream: upstream, device: "file:FILE=\(capture),FORMAT=raw")
        let result = try daemon.speakctl(["--wait", "--voice", "nova", "--model", "tts-1-hd", "--speed", "1.25",
                                          "Odd chunk sizes must not lose or shift a single byte."])
        XCTAssertEqual(result.status, 0, result.stderr)

        let requests = try upstream.requests()
        XCTAssertEqual(requests.count, 1)
        let sent = try XCTUnwrap(requests.first?.pcm)
        XCTAssertGreaterThan(sent.count, 10_000)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)), sent, "what ALSA was given differs from what the upstream sent")

        // The request: method, path, auth, and a body holding only the contract's properties.
        let log = try XCTUnwrap(requests.first?.log)
        XCTAssertEqual(log["method"] as? String, "POST")
        XCTAssertEqual(log["path"] as? String, "/v1/audio/speech")
        XCTAssertEqual((log["headers"] as? [String: String])?["authorization"], "Bearer sk-test")
        let body = try XCTUnwrap(log["body"] as? [String: Any])
        XCTAssertEqual(Set(body.keys), ["model", "input", "voice", "speed", "response_format"])
        XCTAssertEqual(body["response_format"] as? String, "pcm")
        XCTAssertEqual(body["voice"] as? String, "nova")
        XCTAssertEqual(body["model"] as? String, "tts-1-hd")
        XCTAssertEqual(body["speed"] as? Double, 1.25)
        XCTAssertNil(log["error"] as? String)
    }

    func testTextOverTheLimitIsSplitAtSentencesAndPlayedBackToBack() throws {
        let upstream = try MockUpstream(["--ms-per-char", "1"], in: directory)
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try startDaemon(upstream: upstream, device: "file:FILE=\(capture),FORMAT=raw")
        let sentences = (1...300).map { "Sentence number \($0) is here to make the text long." }
        let text = sentences.joined(separator: " ")
        XCTAssertGreaterThan(text.count, 3 * 4096)
        let result = try daemon.speakctl(["--wait"], stdin: Data(text.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)

        let requests = try upstream.requests()
        XCTAssertGreaterThanOrEqual(requests.count, 4)
        var inputs: [String] = []
        for request in requests {
            let input = try XCTUnwrap((request.log["body"] as? [String: Any])?["input"] as? String)
            XCTAssertLessThanOrEqual(input.unicodeScalars.count, 4096)
            XCTAssertTrue(input.hasSuffix("long."), "split inside a sentence: …\(input.suffix(30))")
            inputs.append(input)
        }
        XCTAssertEqual(inputs.joined(separator: " "), text)
        let expected = requests.reduce(Data()) { $0 + $1.pcm }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)), expected)
        // Warm connections served every request: one per request running at once (the next segment is asked for
        // while the one before still streams), not one per request.
        XCTAssertLessThanOrEqual(Set(requests.compactMap { $0.log["connection"] as? Int }).count, 3)
    }

    func testPlaybackThroughPulseContainsEverySampleInOrder() throws {
        let upstream = try MockUpstream(["--chunks", "1,3,4097,960"], in: directory)
        let daemon = try startDaemon(upstream: upstream, device: "default")
        let recorder = try SinkRecorder(in: directory)
        let result = try daemon.speakctl(["--wait", "Every sample of this sentence must reach the sink in order."])
        XCTAssertEqual(result.status, 0, result.stderr)
        usleep(200_000)
        let recorded = recorder.stop()
        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().first?.pcm))
        // A new stream's first milliseconds may arrive as zeros in the monitor (seen: up to 5 ms); anchor after them.
        let skip = 480
        let anchor = try XCTUnwrap(recorded.firstIndex(ofSequence: sent[skip..<(skip + 480)]), "the sent audio is not in the recording")
        let played = recorded[anchor..<min(anchor + sent.count - skip, recorded.count)]
        XCTAssertEqual(played.count, sent.count - skip, "recording ends early")
        XCTAssertTrue(played.elementsEqual(sent[skip...]), "samples lost, doubled or changed between upstream and sink")
    }

    /// An upstream slower than real time (100 ms of audio every 200 ms) makes the device underrun again and again:
    /// each underrun is recovered and counted, the job still finishes, and every chunk is heard, in order.
    func testUnderrunsAreRecoveredCountedAndLoseNothing() throws {
        let upstream = try MockUpstream(["--ms-per-char", "30", "--chunks", "4800", "--chunk-delay", "0.2"], in: directory)
        let daemon = try startDaemon(upstream: upstream, device: "default")
        let recorder = try SinkRecorder(in: directory)
        let result = try daemon.speakctl(["--wait", "A slow upstream starves the device."])
        XCTAssertEqual(result.status, 0, result.stderr)
        usleep(200_000)
        let recorded = recorder.stop()
        let status = try XCTUnwrap(try daemon.connect().request("status").status)
        XCTAssertGreaterThanOrEqual(status.underruns, 3, "an upstream at half real time must underrun")
        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().first?.pcm))
        var searchFrom = 0
        for start in stride(from: 480, to: sent.count - 480, by: 2_400) {
            let piece = sent[start..<(start + 480)]
            guard let found = Array(recorded[searchFrom...]).firstIndex(ofSequence: piece) else {
                XCTFail("the audio at sample \(start) of \(sent.count) was not heard after the previous piece")
                return
            }
            searchFrom += found + 480
        }
    }

    func testSoundStartsWhileTheUpstreamIsStillSending() throws {
        let upstream = try MockUpstream(["--first-bytes", "4800", "--hold", "2"], in: directory)
        let daemon = try startDaemon(upstream: upstream, device: "default")
        let recorder = try SinkRecorder(in: directory)
        let before = recorder.samples.count
        let connection = try daemon.connect()
        let begin = Date()
        let reply = try connection.request("speak", ["input": .string("The first tenth of a second comes at once, the rest two seconds later.")])
        XCTAssertTrue(reply.ok)
        var startedAfter: TimeInterval?
        while true {
            let event = try connection.nextEvent()
            if event.state == .started { startedAfter = Date().timeIntervalSince(begin) }
            if event.state?.isFinal == true {
                XCTAssertEqual(event.state, .finished)
                break
            }
        }
        // The two-second hold starved the device: recovered, and counted.
        let status = try connection.request("status")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(status.status).underruns, 1)
        usleep(300_000)
        let recorded = recorder.stop()
        XCTAssertLessThan(try XCTUnwrap(startedAfter), 1.0, "the job started only after the upstream finished")
        // In the sink: the first 100 ms are heard, then silence while the upstream holds, then the rest.
        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().first?.pcm))
        let firstAudio = try XCTUnwrap(recorded.firstIndex(ofSequence: sent[1_200..<1_440]), "first part not recorded")
        // Anchored 100 ms into the second part: a stream restarting after an underrun may begin with a few
        // milliseconds of zeros in the monitor.
        let secondAudio = try XCTUnwrap(recorded.firstIndex(ofSequence: sent[4_800..<5_040]), "second part not recorded")
        XCTAssertLessThan(Double(firstAudio - before) / 24_000, 1.5, "first sound came too late")
        XCTAssertGreaterThan(Double(secondAudio - firstAudio) / 24_000, 1.5, "the upstream's hold was not heard as a pause: audio was not streamed")
    }

    func testStopSilencesAndCancelsTheJob() throws {
        let upstream = try MockUpstream(["--ms-per-char", "100"], in: directory)
        let daemon = try startDaemon(upstream: upstream, device: "default")
        let recorder = try SinkRecorder(in: directory)
        let connection = try daemon.connect()
        _ = try connection.request("speak", ["input": .string(String(repeating: "A long announcement. ", count: 15))])
        XCTAssertEqual(try connection.waitForStartOrEnd(), .started, "the job ended without starting")
        usleep(300_000)
        let stopAt = recorder.samples.count
        let stop = try daemon.speakctl(["stop"])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        let final = try connection.nextEvent()
        XCTAssertEqual(final.state, .cancelled)
        usleep(500_000)
        let recorded = recorder.stop()
        XCTAssertGreaterThan(recorded[..<stopAt].suffix(2400).rms, 1000, "nothing was playing before the stop")
        // Allow 100 ms for speakctl to start and the sink's own latency, then nothing but silence.
        let after = recorded[min(stopAt + 2_400, recorded.count)...]
        XCTAssertGreaterThan(after.count, 4_800)
        XCTAssertEqual(after.first(where: { $0 != 0 }), nil, "still sounding after stop")
    }
}
