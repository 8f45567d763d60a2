import Foundation
import SpeakdProtocol
import XCTest

/// The HTTP front door's connection limit and its secrecy, against the real daemon with curl as client.
final class HTTPFrontDoorLimitTests: IntegrationTestCase {
    private let token = "tok-limit-9e41c7d2a5"
    private var port = 0
    private var base: String { "http://127.0.0.1:\(port)" }
    private var auth: [String] { ["-H", "Authorization: Bearer \(token)"] }

    private func startHTTP(_ extra: String = "") throws -> DaemonProcess {
        port = Harness.unusedPort()
        let tokenFile = directory.appendingPathComponent("tokens")
        try Harness.writePrivately("\(token)\n", to: tokenFile)
        let daemon = try startDaemon(config: "[http]\nenabled = true\nport = \(port)\ntoken_file = \"\(tokenFile.path)\"\n\(extra)")
        try waitForPort(port)
        return daemon
    }

    /// A TCP connection to the door that sends nothing (so it stays open, holding its place).
    private func idleConnection() throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("cannot connect to \(port)") }
        return descriptor
    }

    /// Beyond max_connections a client is answered 503 with a message at once (not left hanging in the backlog, not
    /// reset), and served again as soon as a place is free; the daemon speaks throughout.
    func testConnectionsBeyondTheLimitAreAnswered503() throws {
        _ = try startHTTP("max_connections = 2")
        let held = [try idleConnection(), try idleConnection()]
        usleep(300_000)   // both accepted and counted
        let started = Date()
        let refused = try curl(auth + ["-i", "--max-time", "10", base + "/v1/status"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the refusal took too long: the client was left waiting")
        XCTAssertEqual(refused.status, 503, refused.body)
        XCTAssertTrue(refused.body.contains("too_many_connections"), refused.body)
        XCTAssertTrue(refused.body.contains("max_connections"), refused.body)
        XCTAssertTrue(refused.body.lowercased().contains("retry-after: 1"), refused.body)
        // A POST with a body beyond the limit is refused the same way (its body is never a request of the daemon).
        let post = try curl(auth + ["-H", "Content-Type: text/plain", "--data-binary", "Refused words.", base + "/v1/speak"])
        XCTAssertEqual(post.status, 503, post.body)
        // A client that connects and sends nothing is answered too, within about a second, and closed.
        let silent = try idleConnection()
        var buffer = [UInt8](repeating: 0, count: 4_096)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let count = read(silent, &buffer, buffer.count)
        XCTAssertGreaterThan(count, 0, "the silent client got no answer")
        XCTAssertTrue(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).hasPrefix("HTTP/1.1 503"))
        close(silent)
        // One place frees: the next client is served, and its speech is heard.
        close(held[0])
        usleep(300_000)
        let served = try curl(auth + ["-H", "Content-Type: text/plain", "--data-binary", "A place was free.", base + "/v1/speak?wait=true"])
        XCTAssertEqual(served.status, 200, served.body)
        XCTAssertEqual(json(served.body)["state"] as? String, "finished", served.body)
        close(held[1])
        let inputs = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["A place was free."])
    }

    /// Many more clients at once than the limit: each is answered (200 or 503), none hangs or is reset, and the door
    /// serves normally afterwards.
    func testAConnectionFloodIsAnsweredAndForgotten() throws {
        let daemon = try startHTTP("max_connections = 4\nrate_limit = 100000\nrate_burst = 100000")
        let clients = try (0..<24).map { _ in
            try Child("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"] + auth + [base + "/v1/status"])
        }
        let codes = clients.map { $0.finish().stdout }
        XCTAssertTrue(codes.allSatisfy { $0 == "200" || $0 == "503" }, "\(codes)")
        XCTAssertTrue(codes.contains("200"), "\(codes)")
        usleep(300_000)
        for _ in 0..<6 {   // more than the limit, one after another: every connection's place was given back
            XCTAssertEqual(try curl(auth + [base + "/v1/status"]).status, 200)
        }
        XCTAssertTrue(daemon.child.process.isRunning)
    }

    /// No answer, event or log line carries a token or the upstream's API key: not the event stream, the status,
    /// the job list, the metrics, nor the refusals.
    func testSecretsAppearInNoAnswerEventOrLog() throws {
        let daemon = try startHTTP()
        let stream = try Child("/usr/bin/curl", ["-sN", "--max-time", "20"] + auth + [base + "/v1/events"])
        usleep(300_000)
        let heard = try curl(auth + ["-H", "Content-Type: application/json", "--data-binary", #"{"input":"Secret keeping."}"#,
                                     base + "/v1/speak?wait=true"])
        XCTAssertEqual(json(heard.body)["state"] as? String, "finished", heard.body)
        let failing = try curl(auth + ["-H", "Content-Type: application/json", "--data-binary", #"{"input":"x","priority":"loud"}"#,
                                       base + "/v1/speak"])
        XCTAssertEqual(failing.status, 400, failing.body)
        var answers = [heard.body, failing.body]
        for path in ["/v1/status", "/v1/jobs", "/metrics"] { answers.append(try curl(auth + ["-i", base + path]).body) }
        answers.append(try curl(["-i", "-H", "Authorization: Bearer \(token)x", base + "/v1/status"]).body)
        answers.append(try curl(["-i", "-H", "Authorization: Bearer \(token.prefix(8))", base + "/v1/jobs"]).body)
        usleep(300_000)
        stream.terminate()
        let sse = String(decoding: stream.stdoutSoFar, as: UTF8.self)
        XCTAssertTrue(sse.contains(#""state":"finished""#), sse)
        answers.append(sse)
        let log = daemon.stop().log
        self.daemon = nil
        answers.append(log)
        // The token, any long piece of it, and the upstream key (startDaemon's "sk-test").
        let secrets = [token, String(token.prefix(12)), String(token.suffix(12)), "sk-test"]
        for (index, text) in answers.enumerated() {
            for secret in secrets {
                XCTAssertFalse(text.contains(secret), "\(secret) appears in answer \(index): \(text.prefix(2_000))")
            }
        }
    }
}
