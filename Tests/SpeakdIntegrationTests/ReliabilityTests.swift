import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Upstream faults against the real daemon: bounded retries, the upstream's own wait honoured, no retry of what
/// cannot succeed, and the embedded engine speaking when the upstream cannot.
final class ReliabilityTests: IntegrationTestCase {

    private func startDaemon(mock: [String], baseURL: String? = nil, extra: [String] = []) throws -> DaemonProcess {
        let upstream = try MockUpstream(["--ms-per-char", "5"] + mock, in: directory)
        self.upstream = upstream
        let capture = directory.appendingPathComponent("capture.raw").path
        return try DaemonProcess(arguments: ["--api-base", baseURL ?? upstream.baseURL, "--device", "file:FILE=\(capture),FORMAT=raw"] + extra,
                                 in: directory, environment: ["OPENAI_API_KEY": "sk-test"])
    }

    private func finalEvent(_ connection: DaemonConnection, job: String) throws -> Event {
        while true {
            let event = try connection.nextEvent()
            if event.job == job, event.state?.isFinal == true { return event }
        }
    }

    func testServerErrorsAreRetriedThenTheJobIsSpoken() throws {
        let daemon = try startDaemon(mock: ["--status", "503", "--fail-first", "2"])
        let client = try daemon.connect()
        let job = try client.speak("Third time lucky.")
        let final = try finalEvent(client, job: job)
        XCTAssertEqual(final.state, .finished, final.reason ?? "")
        XCTAssertEqual(final.engine, "openai")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 3)
    }

    func testRetryAfterIsHonoured() throws {
        let daemon = try startDaemon(mock: ["--status", "429", "--retry-after", "1", "--fail-first", "1"])
        let client = try daemon.connect()
        let begin = Date()
        let job = try client.speak("Slow down.", ["priority": .string("text")])
        let final = try finalEvent(client, job: job)
        XCTAssertEqual(final.state, .finished, final.reason ?? "")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(begin), 1.0, "retried before the upstream's Retry-After")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 2)
    }

    func testAnExhaustedQuotaIsNotRetried() throws {
        let body = #"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":"insufficient_quota"}}"#
        let daemon = try startDaemon(mock: ["--status", "429", "--error-body", body])
        let client = try daemon.connect()
        // Text jobs have no fallback by default: the failure itself is reported.
        let job = try client.speak("No credit.", ["priority": .string("text")])
        let final = try finalEvent(client, job: job)
        XCTAssertEqual(final.state, .failed)
        XCTAssertTrue(final.reason?.contains("exceeded your current quota") == true, final.reason ?? "")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 1)
    }

    func testAnUnreachableUpstreamFallsBackToTheEmbeddedEngineForMessages() throws {
        // A port nobody listens on: every connection is refused.
        let port = Harness.unusedPort()
        let daemon = try startDaemon(mock: [], baseURL: "http://127.0.0.1:\(port)/v1")
        let client = try daemon.connect()

        let announcement = try client.speak("The front door is open.")
        let heard = try finalEvent(client, job: announcement)
        XCTAssertEqual(heard.state, .finished, heard.reason ?? "")
        XCTAssertEqual(heard.engine, "espeak-ng")
        XCTAssertTrue(heard.reason?.contains("espeak-ng spoke instead") == true, heard.reason ?? "")
        let capture = directory.appendingPathComponent("capture.raw").path
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int ?? 0, 22_050,
                             "the embedded engine's audio did not reach the device")

        let text = try client.speak("Not worth a fallback.", ["priority": .string("text")])
        let failed = try finalEvent(client, job: text)
        XCTAssertEqual(failed.state, .failed)
        XCTAssertTrue(failed.reason?.contains("connecting to upstream") == true, failed.reason ?? "")
    }

    func testFallbackCanBeTurnedOff() throws {
        let daemon = try startDaemon(mock: ["--status", "500"], extra: ["--fallback", "none"])
        let client = try daemon.connect()
        let job = try client.speak("Nobody speaks this.", ["priority": .string("important")])
        let final = try finalEvent(client, job: job)
        XCTAssertEqual(final.state, .failed)
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 4, "four tries in all")
    }
}

/// Who may use the socket: the kernel's word for the peer (SO_PEERCRED), against the configured access list.
final class AccessListTests: IntegrationTestCase {
    private func daemon(allowing uids: [Int]) throws -> DaemonProcess {
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            engine = "espeak-ng"
            allowed_uids = [\(uids.map(String.init).joined(separator: ", "))]
            """.write(to: config, atomically: true, encoding: .utf8)
        return try DaemonProcess(arguments: ["--config", config.path, "--device", "null"], in: directory)
    }

    func testAPeerNotOnTheListIsRefusedWithAReason() throws {
        let refusing = try daemon(allowing: [54_321])
        let result = try refusing.speakctl(["--wait", "Let me in."])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("uid \(getuid())"), result.stderr)
        XCTAssertTrue(result.stderr.contains("not allowed"), result.stderr)
    }

    func testAPeerOnTheListIsServedAndLoggedWithItsCredentials() throws {
        let allowing = try daemon(allowing: [Int(getuid())])
        let result = try allowing.speakctl(["--wait", "Welcome."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let log = allowing.stop().log
        XCTAssertTrue(log.contains("job accepted"), log)
        XCTAssertTrue(log.contains("uid \(getuid())") && log.contains("pid "), "the job's peer is not logged: \(log)")
    }
}
