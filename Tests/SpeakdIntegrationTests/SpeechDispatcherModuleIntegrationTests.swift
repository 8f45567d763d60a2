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

/// A plain SSIP client (the line protocol of speech-dispatcher's clients: CRLF lines, `NNN-` continuation).
private final class SSIPClient {
    private let handle: FileHandle
    private var buffer = Data()

    init(path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw HarnessError("cannot connect to speech-dispatcher at \(path)") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func send(_ text: String) throws { try handle.write(contentsOf: Data(text.utf8)) }

    /// Sends one command and returns the final line of its reply.
    func command(_ line: String) throws -> String {
        try send(line + "\r\n")
        while true {
            let reply = try readLine(timeout: 5)
            if reply.count >= 4, reply[reply.index(reply.startIndex, offsetBy: 3)] == " " { return reply }
        }
    }

    func readUntil(_ last: String, timeout: TimeInterval) throws -> [String] {
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let line = try readLine(timeout: deadline.timeIntervalSinceNow)
            lines.append(line)
            if line == last { return lines }
        }
    }

    private func readLine(timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[buffer.startIndex..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            guard Date() < deadline else { throw HarnessError("SSIP: timed out; have \(String(decoding: buffer, as: UTF8.self))") }
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let data = handle.availableData
            guard !data.isEmpty else { throw HarnessError("SSIP: speech-dispatcher closed the connection") }
            buffer += data
        }
    }
}
