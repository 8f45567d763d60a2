import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// speakd against an HTTPS upstream with its own certificate (`ca_file`), and `keep_warm` keeping the connection
/// open across pauses longer than the server's keep-alive timeout.
final class HTTPSUpstreamTests: IntegrationTestCase {

    /// A self-signed certificate for 127.0.0.1 (P-256), made with the openssl tool.
    private func makeCertificate() throws -> (certificate: String, key: String) {
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let result = try Child("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                    "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
                                                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]).finish()
        XCTAssertEqual(result.status, 0, result.stderr)
        return (certificate, key)
    }

    private func startDaemon(mock: [String], upstreamSettings: String) throws -> DaemonProcess {
        let (certificate, key) = try makeCertificate()
        let upstream = try MockUpstream(["--tls-cert", certificate, "--tls-key", key] + mock, in: directory)
        self.upstream = upstream
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            default_upstream = "lan"
            [upstream.lan]
            base_url = "https://127.0.0.1:\(upstream.port)/v1"
            \(upstreamSettings.replacingOccurrences(of: "CERT", with: certificate))
            """.write(to: config, atomically: true, encoding: .utf8)
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--device", "file:FILE=\(capture),FORMAT=raw",
                                                   "--no-cache", "--fallback", "none"], in: directory)
        self.daemon = daemon
        return daemon
    }

    /// (method, connection number) of each request the mock logged.
    private func requests() throws -> [(method: String, connection: Int)] {
        try XCTUnwrap(upstream).requests().map { ($0.log["method"] as? String ?? "?", $0.log["connection"] as? Int ?? -1) }
    }

    func testAnUpstreamWithItsOwnCertificateIsTrustedThroughCAFile() throws {
        let daemon = try startDaemon(mock: [], upstreamSettings: "ca_file = \"CERT\"")
        let result = try daemon.speakctl(["--wait", "Over TLS."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let sent = try XCTUnwrap(upstream).requests()[0].pcm
        XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent("capture.raw")), sent)
    }

    func testAnUntrustedCertificateFailsWithAReasonThatSaysSo() throws {
        let daemon = try startDaemon(mock: [], upstreamSettings: "")
        let result = try daemon.speakctl(["--wait", "Over TLS."])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.lowercased().contains("certificate"), result.stderr)
    }

    /// The server closes connections idle for 1 s (uvicorn does after 5 s). Without keep_warm, a job after a 2.5 s
    /// pause opens a new connection (a new TLS handshake); with keep_warm = 1 the same connection serves both jobs.
    func testKeepWarmKeepsTheConnectionAcrossAPauseLongerThanTheServersTimeout() throws {
        for (keepWarm, expectedConnections) in [(0, 2), (1, 1)] {
            let daemon = try startDaemon(mock: ["--idle-close", "1.5"], upstreamSettings: "ca_file = \"CERT\"\nkeep_warm = \(keepWarm)")
            XCTAssertEqual(try daemon.speakctl(["--wait", "First."]).status, 0)
            usleep(3_000_000)
            XCTAssertEqual(try daemon.speakctl(["--wait", "Second, after a pause."]).status, 0)
            let all = try requests()
            let posts = all.filter { $0.method == "POST" }
            XCTAssertEqual(posts.count, 2)
            XCTAssertEqual(Set(posts.map(\.connection)).count, expectedConnections, "keep_warm = \(keepWarm): requests \(all)")
            if keepWarm > 0 {
                XCTAssertGreaterThanOrEqual(try requests().filter { $0.method == "GET" }.count, 2, "no refresh was sent")
            } else {
                XCTAssertEqual(try requests().filter { $0.method == "GET" }.count, 0, "keep_warm = 0 must send nothing")
            }
            _ = daemon.stop()
            self.daemon = nil
            upstream = nil
            try FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }
}
