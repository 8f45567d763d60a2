import Foundation
import XCTest

/// sd_speakd inside the real Debian speech-dispatcher (headless, private socket and configuration), speaking
/// through a real speakd against the mock upstream into the PulseAudio null sink, recorded with parec.
///
/// Needs speakd's job control (`cancel`, and `speak` with `priority`/`volume`); against a daemon without it the
/// daemon refuses every piece and these tests fail on the missing audio, which is the point.
final class SpeechDispatcherModuleIntegrationTests: IntegrationTestCase {
    private var dispatcher: SpawnedProcess!
    private var dispatcherSocket: String { directory.appendingPathComponent("spd.sock").path }

    override func tearDownWithError() throws {
        dispatcher?.stop()
        dispatcher = nil
        _ = daemon?.stop()
        try super.tearDownWithError()
    }

    /// speakd on the mock, then speech-dispatcher with sd_speakd as its only and default module.
    /// `warmCache`: whether sd_speakd warms the phrase cache with key echo's phrases (off by default here, so the
    /// mock's request log holds only what the test speaks).
    /// `device`: ALSA's `null` for tests that only check what reaches the upstream (no sink, no lock needed).
    private func startStack(upstreamArguments: [String] = [], warmCache: Bool = false, device: String = "default") throws {
        let upstream = try MockUpstream(upstreamArguments, in: directory)
        self.upstream = upstream
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path, "--device", device],
                                   in: directory)

        let configuration = directory.appendingPathComponent("speechd")
        let modules = configuration.appendingPathComponent("modules")
        try FileManager.default.createDirectory(at: modules, withIntermediateDirectories: true)
        let module = Harness.binDirectory.appendingPathComponent("sd_speakd").path
        // The lines a user adds to speechd.conf (see README, "Use with Orca"), with the module's absolute path.
        try """
            LogLevel 4
            AudioOutputMethod "pulse"
            AddModule "speakd" "\(module)" "speakd.conf"
            DefaultModule speakd
            """.write(to: configuration.appendingPathComponent("speechd.conf"), atomically: true, encoding: .utf8)
        self.daemon = daemon
        try "SpeakdSocket \"\(daemon.socketPath)\"\nSpeakdWarmCache \"\(warmCache ? "on" : "off")\"\n"
            .write(to: modules.appendingPathComponent("speakd.conf"), atomically: true, encoding: .utf8)
        let logs = directory.appendingPathComponent("speechd-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        dispatcher = try SpawnedProcess("/usr/bin/speech-dispatcher",
                                        ["-s", "-C", configuration.path, "-S", dispatcherSocket, "-L", logs.path, "-t", "120", "-l", "4",
                                         // A private pid file: the default one (~/.cache) makes a second instance refuse to start.
                                         "-P", directory.appendingPathComponent("speech-dispatcher.pid").path],
                                        logFile: directory.appendingPathComponent("speech-dispatcher.out").path)
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: dispatcherSocket) {
            guard Date() < deadline else { throw HarnessError("speech-dispatcher did not start: \(dispatcher.stop().log)") }
            usleep(20_000)
        }
    }

    private func spdSay(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child("/usr/bin/spd-say", arguments, environment: ["SPEECHD_ADDRESS": "unix_socket:\(dispatcherSocket)"]).finish()
    }

    private var diagnostics: String {
        let module = (try? String(contentsOf: directory.appendingPathComponent("speechd-logs/speakd.log"), encoding: .utf8)) ?? ""
        return "module log: \(module.suffix(1500))"
    }

    func testSpdSayPlaysTheMocksAudioWithRateAndVoice() throws {
        try startStack()
        let recorder = try SinkRecorder(in: directory)
        let result = try spdSay(["-w", "-o", "speakd", "-r", "50", "-y", "nova", "Hello from speech dispatcher."])
        XCTAssertEqual(result.status, 0, result.stderr)
        usleep(200_000)
        let recorded = recorder.stop()

        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 1, diagnostics)
        let body = try XCTUnwrap(requests.first?.log["body"] as? [String: Any], diagnostics)
        XCTAssertEqual(body["input"] as? String, "Hello from speech dispatcher.")
        XCTAssertEqual(body["voice"] as? String, "nova", "synthesis_voice reaches the upstream")
        XCTAssertEqual(body["speed"] as? Double, 2.0, "rate 50 → speed 2^(50/50)")
        // The mock's samples are in the sink, in order (anchored past a stream's first, sometimes zeroed, ms).
        let sent = SinkRecorder.samples(of: try XCTUnwrap(requests.first?.pcm))
        XCTAssertGreaterThan(sent.count, 4_800)
        XCTAssertNotNil(recorded.firstIndex(ofSequence: sent[480..<2_880]), "the upstream's audio is not in the recording")
        XCTAssertNotNil(recorded.firstIndex(ofSequence: sent[(sent.count - 2_400)...]), "the end of the audio is missing")
    }

    func testVoicesAreListedThroughSpeechDispatcher() throws {
        try startStack()
        let result = try spdSay(["-o", "speakd", "-L"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let names = result.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }
        XCTAssertEqual(names, ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"])
    }

    func testCancelSilencesPlaybackQuickly() throws {
        try startStack(upstreamArguments: ["--ms-per-char", "60"])   // ~8 s of audio
        let recorder = try SinkRecorder(in: directory)
        let text = String(repeating: "This sentence goes on for a long while. ", count: 3)
        XCTAssertEqual(try spdSay(["-o", "speakd", text]).status, 0)
        // Wait until the sink hears it.
        let heardBy = Date().addingTimeInterval(5)
        var offset = recorder.samples.count
        while Date() < heardBy {
            let samples = recorder.samples
            if samples.count > offset + 2_400, Array(samples[offset...]).rms > 1_000 { break }
            offset = max(0, samples.count - 2_400)
            usleep(20_000)
        }
        XCTAssertGreaterThan(Array(recorder.samples.suffix(2_400)).rms, 1_000, "never heard the speech: \(diagnostics)")

        let cancelled = try spdSay(["-C"])
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        usleep(150_000)   // the cut itself takes ~1 ms; the monitor's latency is 20 ms
        let after = recorder.samples.count
        usleep(600_000)
        let tail = Array(recorder.samples[after...])
        XCTAssertGreaterThan(tail.count, 9_600)
        XCTAssertEqual(tail.map { abs(Int($0)) }.max() ?? 0, 0, "still playing 150 ms after spd-say -C")

        // The next message plays: the module reported 703 STOP, so speech-dispatcher is not waiting on it.
        XCTAssertEqual(try spdSay(["-w", "-o", "speakd", "Next."]).status, 0)
        XCTAssertEqual(try XCTUnwrap(upstream).requests().last.flatMap { ($0.log["body"] as? [String: Any])?["input"] as? String }, "Next.")
    }

    func testSSMLMarksArriveInOrderThenEnd() throws {
        try startStack(upstreamArguments: ["--ms-per-char", "10"])
        let client = try SSIPClient(path: dispatcherSocket)
        for command in ["SET SELF CLIENT_NAME \"root:test:main\"", "SET SELF OUTPUT_MODULE speakd", "SET SELF SSML_MODE on",
                        "SET SELF NOTIFICATION ALL on"] {
            XCTAssertTrue(try client.command(command).hasPrefix("2"), command)
        }
        XCTAssertEqual(try client.command("SPEAK"), "230 OK RECEIVING DATA")
        try client.send("<speak><mark name=\"0:3\"/>One <mark name=\"4:7\"/>two caf&#233; <mark name=\"8:13\"/>three.<mark name=\"end\"/></speak>\r\n.\r\n")
        let events = try client.readUntil("702 END", timeout: 10)
        let marks = events.enumerated().compactMap { index, line in
            index + 1 < events.count && events[index + 1] == "700 INDEX MARK" ? String(line.dropFirst(4)) : nil
        }
        XCTAssertEqual(marks, ["0:3", "4:7", "8:13", "end"], "\(events)")
        let begin = try XCTUnwrap(events.firstIndex(of: "701 BEGIN"), "\(events)")
        let firstMark = try XCTUnwrap(events.firstIndex(of: "700 INDEX MARK"))
        XCTAssertLessThan(begin, firstMark)
        XCTAssertEqual(events.last, "702 END")
        let inputs = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["One two café three."], "one upstream request for the whole message, entities decoded")
    }
}

extension SpeechDispatcherModuleIntegrationTests {
    private func inputs() throws -> [String] {
        try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
    }

    func testPunctuationSpellingAndCapitalsThroughSpeechDispatcher() throws {
        try startStack(upstreamArguments: ["--ms-per-char", "5"], device: "null")
        XCTAssertEqual(try spdSay(["-w", "-o", "speakd", "-m", "all", "Hi, you."]).status, 0)
        let said = try inputs()
        XCTAssertTrue(said.last?.contains("comma") == true, "\(said) \(diagnostics)")
        XCTAssertEqual(try spdSay(["-w", "-o", "speakd", "-m", "none", "-s", "Ab"]).status, 0)
        XCTAssertEqual(try inputs().last, "A b", "spelled letter by letter")
        let client = try SSIPClient(path: dispatcherSocket)
        for command in ["SET SELF CLIENT_NAME \"root:test:main\"", "SET SELF OUTPUT_MODULE speakd", "SET SELF CAP_LET_RECOGN spell",
                        "SET SELF NOTIFICATION ALL on"] {
            XCTAssertTrue(try client.command(command).hasPrefix("2"), command)
        }
        XCTAssertTrue(try client.command("CHAR A").hasPrefix("2"))
        _ = try client.readUntil("702 END", timeout: 10)
        XCTAssertEqual(try inputs().last, "cap A")
    }

    func testKeyEchoPlaysFromTheWarmedPhraseCache() throws {
        try startStack(upstreamArguments: ["--ms-per-char", "5"], warmCache: true, device: "null")
        // The first message's settings (speech-dispatcher's defaults: voice type male1 …) are what gets warmed.
        XCTAssertEqual(try spdSay(["-w", "-o", "speakd", "Ready."]).status, 0)
        let log = directory.appendingPathComponent("speechd-logs/speakd.log")
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOf: log, encoding: .utf8))?.contains("phrase cache warmed") ?? false) {
            guard Date() < deadline else { return XCTFail("no warm within 60 s: \(diagnostics)") }
            usleep(100_000)
        }
        let warmed = try inputs()
        XCTAssertTrue(warmed.contains("q") && warmed.contains("escape"), "\(warmed)")
        let client = try SSIPClient(path: dispatcherSocket)
        for command in ["SET SELF CLIENT_NAME \"root:test:main\"", "SET SELF OUTPUT_MODULE speakd", "SET SELF NOTIFICATION ALL on"] {
            XCTAssertTrue(try client.command(command).hasPrefix("2"), command)
        }
        XCTAssertTrue(try client.command("CHAR q").hasPrefix("2"))
        _ = try client.readUntil("702 END", timeout: 10)
        XCTAssertEqual(try inputs().count, warmed.count, "the CHAR played from the cache: no upstream request")
    }
}

/// Issue 14's end-to-end proof: Orca's way of speaking and PAUSE/RESUME, through the real speech-dispatcher.
extension SpeechDispatcherModuleIntegrationTests {
    private func connectClient(_ extra: [String] = []) throws -> SSIPClient {
        let client = try SSIPClient(path: dispatcherSocket)
        for command in ["SET SELF CLIENT_NAME \"root:test:main\"", "SET SELF OUTPUT_MODULE speakd", "SET SELF NOTIFICATION ALL on"] + extra {
            XCTAssertTrue(try client.command(command).hasPrefix("2"), command)
        }
        return client
    }

    /// Seconds of sound in `samples` (10 ms windows with a sample above the noise floor).
    private func audibleSeconds(_ samples: ArraySlice<Int16>) -> Double {
        var windows = 0
        for start in stride(from: samples.startIndex, to: samples.endIndex, by: 240)
        where samples[start..<min(start + 240, samples.endIndex)].contains(where: { abs(Int($0)) > 300 }) {
            windows += 1
        }
        return Double(windows) * 0.010
    }

    /// Orca: SSML, a mark before every word, priority message, on an upstream 0.3 s from its first byte. One request
    /// for the sentence, every mark in order and timed by what is heard (spread over the speech, not bunched at its
    /// end), the last before `702 END`.
    func testOrcaStyleSentenceIsOneRequestWithMarksTimedAsHeard() throws {
        try startStack(upstreamArguments: ["--ms-per-char", "40", "--header-delay", "0.3"])   // the sink paces what is heard
        recorder = try SinkRecorder(in: directory)   // a null sink without a client on its monitor drifts late
        let words = "The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly past the mill."
            .split(separator: " ").map(String.init)
        var offset = 0
        var ssml = "<speak>"
        for word in words {
            ssml += "<mark name=\"\(offset):\(offset + word.count)\"/>\(word) "
            offset += word.count + 1
        }
        var expected: [String] = []
        var at = 0
        for word in words {
            expected.append("\(at):\(at + word.count)")
            at += word.count + 1
        }
        let client = try connectClient(["SET SELF SSML_MODE on", "SET SELF PRIORITY message"])
        XCTAssertEqual(try client.command("SPEAK"), "230 OK RECEIVING DATA")
        try client.send(ssml.trimmingCharacters(in: .whitespaces) + "</speak>\r\n.\r\n")
        let events = try client.readUntilTimed("702 END", timeout: 30)
        let marks = SSIPClient.marks(in: events)
        XCTAssertEqual(marks.map(\.name), expected, "\(events.map(\.line)) \(diagnostics)")
        XCTAssertEqual(try inputs(), [words.joined(separator: " ")], "one upstream request for the sentence")
        guard marks.count == expected.count else { return }
        let intervals = zip(marks, marks.dropFirst()).map { $1.time.timeIntervalSince($0.time) }
        XCTAssertTrue(intervals.allSatisfy { $0 > 0.02 }, "each mark after the one before: \(intervals)")
        // The first word starts the audio and the last begins 0.04 s × (characters before it) later.
        let heard = try XCTUnwrap(marks.last).time.timeIntervalSince(try XCTUnwrap(marks.first).time)
        let spoken = Double(at - words[words.count - 1].count - 1) * 0.040
        XCTAssertEqual(heard, spoken, accuracy: 0.5, "marks span \(heard) s of a \(spoken) s stretch of speech")
        let begin = try XCTUnwrap(events.firstIndex { $0.line == "701 BEGIN" })
        let lastMark = try XCTUnwrap(events.lastIndex { $0.line == "700 INDEX MARK" })
        XCTAssertLessThan(begin, lastMark)
        XCTAssertEqual(events.last?.line, "702 END")
    }

    /// Orca's SSML for `text`: a `<mark name="START:END"/>` before every word, and the mark names in order.
    private func wordMarked(_ text: String) -> (ssml: String, marks: [String]) {
        var ssml = "<speak>", marks: [String] = [], at = 0
        for word in text.split(separator: " ") {
            marks.append("\(at):\(at + word.count)")
            ssml += "<mark name=\"\(marks.last!)\"/>\(word) "
            at += word.count + 1
        }
        return (ssml.trimmingCharacters(in: .whitespaces) + "</speak>", marks)
    }

    /// PAUSE in the first sentence: the module ends the job at speech-dispatcher's next `__spd_` mark (so the
    /// first sentence is heard whole and no more), `704 PAUSE`; RESUME makes speech-dispatcher send the text from
    /// that mark, which plays to `702 END`. Heard: the first sentence, then the rest, nothing twice or missing.
    func testPauseStopsAtTheNextSentenceMarkAndResumeContinuesFromIt() throws {
        try pauseThenResume(ssml: false)
    }

    /// The same as Orca speaks (SSML, a mark before every word): the marks before `704 PAUSED` are the first
    /// sentence's words, those after RESUME the rest's, each word once.
    func testPauseAndResumeWithAMarkBeforeEveryWord() throws {
        try pauseThenResume(ssml: true)
    }

    private func pauseThenResume(ssml: Bool) throws {
        try startStack(upstreamArguments: ["--ms-per-char", "40", "--header-delay", "0.3"])
        let recorder = try SinkRecorder(in: directory)
        let first = "The first sentence is spoken in full before the pause."
        let rest = "The second sentence follows after the resume. And the third one ends it."
        let marked = wordMarked("\(first) \(rest)")
        let client = try connectClient(ssml ? ["SET SELF SSML_MODE on"] : [])
        XCTAssertEqual(try client.command("SPEAK"), "230 OK RECEIVING DATA")
        let start = recorder.samples.count
        try client.send("\(ssml ? marked.ssml : "\(first) \(rest)")\r\n.\r\n")
        var events = try client.readUntilTimed("701 BEGIN", timeout: 10)
        usleep(400_000)
        XCTAssertTrue(try client.command("PAUSE SELF").hasPrefix("2"))
        events += try client.readUntilTimed("704 PAUSED", timeout: 10)   // the client's event for the module's 704 PAUSE
        let marksBeforePause = SSIPClient.marks(in: events).map(\.name)
        usleep(500_000)
        let paused = recorder.samples.count
        XCTAssertEqual(try inputs().first, "\(first) \(rest)", diagnostics)
        let requestsBefore = try inputs().count

        XCTAssertTrue(try client.command("RESUME SELF").hasPrefix("2"))
        let marksAfterResume = SSIPClient.marks(in: try client.readUntilTimed("702 END", timeout: 20)).map(\.name)
        usleep(300_000)
        let recorded = recorder.stop()
        let resumed = Array(try inputs().dropFirst(requestsBefore))
        XCTAssertEqual(resumed.first?.trimmingCharacters(in: .whitespaces), rest,
                       "speech-dispatcher re-sent the text from the mark the module paused at: \(resumed) \(diagnostics)")
        if ssml {
            let firstWords = first.split(separator: " ").count
            XCTAssertEqual(marksBeforePause, Array(marked.marks.prefix(firstWords)), "the first sentence's words, then PAUSE")
            XCTAssertEqual(marksAfterResume, Array(marked.marks.dropFirst(firstWords)), "the rest's words after RESUME")
        }
        // The mock makes 40 ms of sound per character, so what was heard tells where each part began and ended.
        let beforePause = audibleSeconds(recorded[start..<paused])
        let afterResume = audibleSeconds(recorded[paused...])
        XCTAssertEqual(beforePause, Double(first.count) * 0.040, accuracy: 0.3, "heard before PAUSE (the first sentence)")
        XCTAssertEqual(afterResume, Double(rest.count) * 0.040, accuracy: 0.3, "heard after RESUME (the rest)")
    }
}
