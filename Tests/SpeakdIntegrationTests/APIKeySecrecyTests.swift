import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// The API key never leaves the daemon except in the Authorization header: not in its log (at debug level), events,
/// status, list, watch, error messages or `--check-config`, whatever fails; and no core dump can hold it.
final class APIKeySecrecyTests: IntegrationTestCase {
    /// Distinctive enough that any leak, whole or most of it, is found by a plain search.
    private let key = "sk-canary-Q7x9ZpL2mN4vR8tY6wK3"
    private let keyCore = "Q7x9ZpL2mN4vR8tY"
    private var upstreams: [MockUpstream] = []

    override func tearDownWithError() throws {
        upstreams = []
        try super.tearDownWithError()
    }

    func testTheKeyAppearsNowhereTheDaemonOrSpeakctlWrites() throws {
        // Three upstreams with the same key: one refuses it (401), one fails (500), one is not there at all.
        let refusing = try MockUpstream(["--expect-key", "sk-the-right-key-0000", "--ms-per-char", "5"], in: directory)
        let failingDirectory = directory.appendingPathComponent("failing")
        try FileManager.default.createDirectory(at: failingDirectory, withIntermediateDirectories: true)
        let failing = try MockUpstream(["--status", "500", "--ms-per-char", "5"], in: failingDirectory)
        upstreams = [refusing, failing]
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately(key + "\n", to: keyFile)
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            [upstream.refusing]
            base_url = "\(refusing.baseURL)"
            api_key_file = "\(keyFile.path)"
            [upstream.failing]
            base_url = "\(failing.baseURL)"
            api_key_file = "\(keyFile.path)"
            [upstream.gone]
            base_url = "http://127.0.0.1:\(Harness.unusedPort())/v1"
            api_key_file = "\(keyFile.path)"
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--device", "null"], in: directory)
        let speakctl = Harness.binDirectory.appendingPathComponent("speakctl").path
        let watchers = try [["watch"], ["watch", "--json"]].map {
            try Child(speakctl, $0, environment: ["SPEAKD_SOCKET": daemon.socketPath])
        }
        usleep(300_000)

        var printed: [String] = []
        func run(_ arguments: [String], expectingFailure: Bool) throws {
            let result = try daemon.speakctl(arguments)
            XCTAssertEqual(result.status != 0, expectingFailure, "\(arguments): \(result.stderr)")
            printed += [result.stdout, result.stderr]
        }
        // Refused key (401, not retried), a server error (retried, then failed), no server at all; text jobs report
        // the failure itself, a message is spoken by the fallback and its reason quotes the upstream's failure.
        try run(["--wait", "--priority", "text", "--upstream", "refusing", "Key refused."], expectingFailure: true)
        try run(["--wait", "--priority", "text", "--upstream", "failing", "Server error."], expectingFailure: true)
        try run(["--wait", "--priority", "text", "--upstream", "gone", "Nobody home."], expectingFailure: true)
        try run(["--wait", "-v", "--upstream", "refusing", "The fallback speaks."], expectingFailure: false)
        try run(["--wait", "--upstream", "nosuch", "No such upstream."], expectingFailure: true)
        try run(["status"], expectingFailure: false)
        try run(["list"], expectingFailure: false)
        let client = try daemon.connect()
        printed.append(String(decoding: WireCodec.encodeLine(try client.request("status")), as: UTF8.self))
        let checked = try Child(Harness.binDirectory.appendingPathComponent("speakd").path,
                                ["--config", config.path, "--check-config"]).finish()
        XCTAssertEqual(checked.status, 0, checked.stderr)
        printed += [checked.stdout, checked.stderr]

        // The check is meaningful only if the key was really read and sent.
        let sent = try XCTUnwrap(try refusing.requests().first?.log["headers"] as? [String: Any])
        XCTAssertEqual(sent["authorization"] as? String, "Bearer \(key)")
        XCTAssertTrue(printed.joined().contains("API key rejected"), printed.joined())
        XCTAssertTrue(printed.joined().contains("503") || printed.joined().contains("500"), printed.joined())

        for watcher in watchers {
            watcher.terminate()
            let (_, stdout, stderr) = watcher.finish()
            XCTAssertTrue(stdout.contains("failed"), "watch saw no failure: \(stdout)")
            printed += [stdout, stderr]
        }
        let log = daemon.stop().log
        XCTAssertTrue(log.contains("debug"), "the daemon did not log at debug level")
        printed.append(log)

        for (index, text) in printed.enumerated() {
            XCTAssertFalse(text.contains(key), "output \(index) holds the API key: \(text)")
            XCTAssertFalse(text.contains(keyCore), "output \(index) holds most of the API key: \(text)")
        }
    }

    func testCoreDumpsAreForbidden() throws {
        let daemon = try DaemonProcess(arguments: ["--engine", "espeak-ng", "--device", "null"], in: directory)
        let limits = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
        let line = try XCTUnwrap(limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") })
        let fields = line.dropFirst("Max core file size".count).split(separator: " ")
        XCTAssertEqual(Array(fields.prefix(2)), ["0", "0"], "soft and hard core limits: \(line)")
    }
}
