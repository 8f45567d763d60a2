import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// `speakctl upstream check` (the daemon's `upstream_check`) against mock upstreams, each showing one property: every
/// figure the doctor reports must be the one the mock was told to produce.
final class UpstreamCheckTests: IntegrationTestCase {
    private var runningMocks: [MockUpstream] = []

    override func tearDownWithError() throws {
        runningMocks = []
        try super.tearDownWithError()
    }

    /// One daemon with an upstream per mock, named as given; checks each by name and returns the reports.
    private func reports(_ mocks: [(name: String, arguments: [String])], key: String? = nil,
                         unreachable: String? = nil) throws -> [String: UpstreamReport] {
        var config = "default_upstream = \"\(mocks.first?.name ?? unreachable ?? "")\"\n"
        if let key { try Harness.writePrivately(key + "\n", to: directory.appendingPathComponent("key")) }
        for (index, mock) in mocks.enumerated() {
            let logs = directory.appendingPathComponent("mock-\(index)")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            let upstream = try MockUpstream(mock.arguments, in: logs)
            runningMocks.append(upstream)
            config += "[upstream.\(mock.name)]\nbase_url = \"\(upstream.baseURL)\"\nmodel = \"tts-1\"\nvoice = \"nova\"\n"
            if key != nil { config += "api_key_file = \"\(directory.appendingPathComponent("key").path)\"\n" }
        }
        if let unreachable {
            config += "[upstream.\(unreachable)]\nbase_url = \"http://127.0.0.1:\(Harness.unusedPort())/v1\"\n"
        }
        let file = directory.appendingPathComponent("config.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", file.path, "--device", "null"], in: directory)
        self.daemon = daemon
        var reports: [String: UpstreamReport] = [:]
        for name in mocks.map(\.name) + (unreachable.map { [$0] } ?? []) {
            let result = try daemon.speakctl(["upstream", "check", name, "--json"])
            let report = try JSONDecoder().decode(UpstreamReport.self, from: Data(result.stdout.utf8))
            XCTAssertEqual(result.status, report.problems.isEmpty ? 0 : 1, "exit status of \(name): \(result.stderr)")
            reports[name] = report
        }
        return reports
    }

    /// A server that answers after 400 ms + 5 ms per character, all at once: not streaming, and the line through the
    /// two phrases is that one. It lists models and voices, refuses speeds outside 0.5–2.0 in its words, and ignores
    /// the speeds it accepts.
    func testLatencyListingsAndSpeeds() throws {
        let report = try XCTUnwrap(try reports([("plain", ["--expect-key", "sk-right", "--ms-per-char", "75",
                                                           "--header-delay", "0.4", "--ttfb-per-char", "5",
                                                           "--models", "tts-1,kokoro", "--voices", "alloy,nova",
                                                           "--speed-range", "0.5,2", "--ignore-speed"])],
                                               key: "sk-right")["plain"])
        XCTAssertTrue(report.reachable)
        XCTAssertEqual(report.authentication, "ok")
        XCTAssertTrue(report.keySent)
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.models?.names, ["tts-1", "kokoro"])
        XCTAssertEqual(report.voices?.names, ["alloy", "nova"])
        XCTAssertEqual(report.streams, false)
        XCTAssertEqual(report.probes.count, 2)
        XCTAssertEqual(try XCTUnwrap(report.firstRequestMilliseconds), 460, accuracy: 150, "400 ms + 5 ms × 12 characters")
        let firstByte = try XCTUnwrap(report.firstByte)
        XCTAssertEqual(firstByte.basis, "input")
        XCTAssertEqual(firstByte.millisecondsPerCharacter, 5, accuracy: 1.5)
        XCTAssertEqual(firstByte.baseMilliseconds, 400, accuracy: 100)
        XCTAssertEqual(try XCTUnwrap(report.probes.last?.millisecondsPerCharacter), 75, accuracy: 2)
        XCTAssertEqual(report.speedRange, .init(minimum: 0.5, maximum: 2.0))
        XCTAssertEqual(report.speeds.map(\.accepted), [false, true, true, false, false])
        XCTAssertEqual(report.speeds.first?.status, 422)
        XCTAssertTrue(report.speeds.first?.message?.contains("Input should be greater than or equal to 0.5") == true,
                      report.speeds.first?.message ?? "no message")
        XCTAssertTrue(report.warnings.contains { $0.contains("accepts speed but ignores it") }, "\(report.warnings)")
        XCTAssertTrue(report.warnings.contains { $0.contains("not streamed") }, "\(report.warnings)")
        XCTAssertFalse(report.warnings.contains { $0.contains("sample_rate") }, "\(report.warnings)")
    }

    /// How the format is announced, and audio whose length gives its rate away.
    func testFormatsAndAWrongRate() throws {
        let all = try reports([
            ("streaming", ["--ms-per-char", "75", "--chunk-delay", "0.02"]),
            ("l16", ["--ms-per-char", "75", "--rate", "16000", "--content-type", "audio/L16;rate=16000;channels=1"]),
            ("wav", ["--ms-per-char", "75", "--rate", "22050", "--wav-header", "--content-type", "audio/wav"]),
            ("header", ["--ms-per-char", "75", "--rate", "22050", "--content-type", "application/octet-stream",
                        "--header", "X-Sample-Rate: 22050"]),
            ("wrongrate", ["--ms-per-char", "75", "--rate", "48000"]),
        ], unreachable: "gone")

        let streaming = try XCTUnwrap(all["streaming"])
        XCTAssertEqual(streaming.streams, true)
        XCTAssertEqual(streaming.format?.contentType, "audio/pcm")
        XCTAssertEqual(streaming.format?.sampleRate, 24_000)
        XCTAssertEqual(streaming.format?.rateSource, "nothing (24000 Hz assumed)")
        XCTAssertEqual(streaming.format?.chunked, true)
        // 0.1 s of audio every 20 ms: about five times real time.
        XCTAssertEqual(try XCTUnwrap(streaming.realTimeFactor), 5, accuracy: 2)
        XCTAssertEqual(streaming.speedRange, .init(minimum: 0.25, maximum: 4.0))

        let l16 = try XCTUnwrap(all["l16"]?.format)
        XCTAssertEqual([l16.sampleRate, l16.channels], [16_000, 1])
        XCTAssertEqual(l16.rateSource, "Content-Type")
        XCTAssertEqual(all["l16"]?.warnings.contains { $0.contains("sample_rate") }, false)

        let wav = try XCTUnwrap(all["wav"]?.format)
        XCTAssertEqual(wav.container, "wav")
        XCTAssertEqual(wav.sampleRate, 22_050)
        XCTAssertEqual(wav.rateSource, "WAV header")
        XCTAssertEqual(try XCTUnwrap(all["wav"]?.probes.last?.millisecondsPerCharacter), 75, accuracy: 2)

        let header = try XCTUnwrap(all["header"]?.format)
        XCTAssertEqual(header.sampleRate, 22_050)
        XCTAssertEqual(header.rateSource, "the X-Sample-Rate header")
        XCTAssertEqual(header.formatHeaders, ["X-Sample-Rate: 22050"])

        // 48 kHz audio labelled as nothing (so 24 kHz): speech twice as slow as people speak.
        let wrong = try XCTUnwrap(all["wrongrate"])
        XCTAssertEqual(try XCTUnwrap(wrong.probes.last?.millisecondsPerCharacter), 150, accuracy: 4)
        XCTAssertTrue(wrong.warnings.contains { $0.contains("probably 48000 Hz") && $0.contains("sample_rate = 48000 in [upstream.wrongrate]") },
                      "\(wrong.warnings)")

        let gone = try XCTUnwrap(all["gone"])
        XCTAssertFalse(gone.reachable)
        XCTAssertTrue(gone.problems.first?.hasPrefix("unreachable: ") == true, "\(gone.problems)")
    }

    /// A refused key is a problem (exit 1) with the server's words; the human form says so too.
    func testARefusedKeyAndTheHumanReport() throws {
        let all = try reports([("strict", ["--expect-key", "sk-right"])], key: "sk-wrong-secret-1234")
        let report = try XCTUnwrap(all["strict"])
        XCTAssertEqual(report.authentication, "rejected")
        XCTAssertTrue(report.problems.first?.contains("Incorrect API key provided") == true, "\(report.problems)")
        let human = try XCTUnwrap(daemon).speakctl(["upstream", "check"])
        XCTAssertEqual(human.status, 1)
        XCTAssertTrue(human.stdout.contains("key:         REFUSED"), human.stdout)
        XCTAssertTrue(human.stdout.contains("PROBLEM:     the API key was refused"), human.stdout)
        XCTAssertFalse(human.stdout.contains("sk-wrong-secret"), "the key must never be shown")
    }
}
