import Foundation
import SpeakdProtocol
import XCTest

/// The HTTP front door ([http]) against the real daemon, the mock upstream and the null sink, with curl as client.
final class HTTPFrontDoorTests: IntegrationTestCase {
    private let token = "tok-3b1f9a0c2e7d4458"
    private var port = 0

    private func startHTTP(extra: String = "", msPerChar: Double = 10) throws -> DaemonProcess {
        port = Harness.unusedPort()
        let tokenFile = directory.appendingPathComponent("tokens")
        try Harness.writePrivately("# speakd HTTP tokens\n\(token)\nsecond-token-0000\n", to: tokenFile)
        let daemon = try startDaemon(config: """
            [http]
            enabled = true
            port = \(port)
            token_file = "\(tokenFile.path)"
            max_body_bytes = 2048
            \(extra)
            """, msPerChar: msPerChar)
        try waitForPort(port)
        return daemon
    }

    private var base: String { "http://127.0.0.1:\(port)" }
    private var auth: [String] { ["-H", "Authorization: Bearer \(token)"] }

    private func post(_ path: String, json: String? = nil, from interface: String? = nil) throws -> (status: Int, body: String) {
        var arguments = auth + ["-X", "POST"]
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        if let interface { arguments += ["--interface", interface] }
        return try curl(arguments + [base + path])
    }

    func testEveryEndpointAgainstTheDaemon() throws {
        let daemon = try startHTTP()
        // speak, waiting until heard: the answer is the job's final event.
        let heard = try post("/v1/speak?wait=true", json: #"{"input":"Waited for.","priority":"message"}"#)
        XCTAssertEqual(heard.status, 200, heard.body)
        XCTAssertEqual(json(heard.body)["state"] as? String, "finished", heard.body)
        // Plain text is the input.
        let plain = try curl(auth + ["-H", "Content-Type: text/plain", "--data-binary", "Plain words.", base + "/v1/speak?wait=1"])
        XCTAssertEqual(json(plain.body)["state"] as? String, "finished", plain.body)
        let texts = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(texts, ["Waited for.", "Plain words."])

        // The event stream sees a job's events as SSE.
        let stream = try Child("/usr/bin/curl", ["-sN", "--max-time", "20"] + auth + [base + "/v1/events"])
        usleep(300_000)
        // Without wait: the job id at once; pause holds it; status and jobs show it.
        let long = try post("/v1/speak", json: #"{"input":"\#(String(repeating: "long ", count: 60)).","priority":"text"}"#)
        XCTAssertEqual(long.status, 200, long.body)
        let job = try XCTUnwrap(json(long.body)["job"] as? String)
        usleep(600_000)
        XCTAssertEqual(try post("/v1/pause").status, 200)
        let status = try curl(auth + [base + "/v1/status"])
        XCTAssertEqual(status.status, 200)
        let info = try XCTUnwrap(json(status.body)["status"] as? [String: Any])
        XCTAssertEqual(info["paused"] as? Bool, true, status.body)
        XCTAssertEqual(info["currentJob"] as? String, job, status.body)
        let jobs = try curl(auth + [base + "/v1/jobs"])
        XCTAssertEqual((json(jobs.body)["jobs"] as? [[String: Any]])?.first?["job"] as? String, job, jobs.body)
        XCTAssertEqual(try post("/v1/resume").status, 200)
        // skip cancels the job being heard; cancel by id; stop clears the rest.
        let second = try XCTUnwrap(json(try post("/v1/speak", json: #"{"input":"Second one here.","priority":"text"}"#).body)["job"] as? String)
        let third = try XCTUnwrap(json(try post("/v1/speak", json: #"{"input":"Third one here.","priority":"text"}"#).body)["job"] as? String)
        let skipped = try post("/v1/skip")
        XCTAssertEqual(json(skipped.body)["cancelled"] as? Int, 1, skipped.body)
        let cancelled = try post("/v1/jobs/\(third)/cancel")
        XCTAssertEqual(cancelled.status, 200, cancelled.body)
        XCTAssertEqual(try post("/v1/jobs/999999/cancel").status, 404)
        XCTAssertEqual(try post("/v1/stop").status, 200)
        XCTAssertEqual(try post("/v1/speak", json: #"{"input":""}"#).status, 400)
        XCTAssertEqual(try post("/v1/speak", json: "[1,2]").status, 400)
        usleep(500_000)
        stream.terminate()
        let sse = String(decoding: stream.stdoutSoFar, as: UTF8.self)
        XCTAssertTrue(sse.contains("event: job\ndata: {"), sse)
        for (id, state) in [(job, "cancelled"), (second, "cancelled"), (third, "cancelled")] {
            XCTAssertTrue(sse.contains(#""job":"\#(id)""#) && sse.contains(#""state":"\#(state)""#), "\(id) \(state) missing: \(sse)")
        }
        // The peer address is logged with every job; the token never is.
        let log = daemon.stop().log
        XCTAssertTrue(log.contains("peer=http 127.0.0.1:"), log)
        XCTAssertFalse(log.contains(token), "the token appears in the log")
        self.daemon = nil
    }

    func testTokensAreRequired() throws {
        let daemon = try startHTTP()
        XCTAssertEqual(try curl([base + "/v1/status"]).status, 401)
        let wrong = try curl(["-H", "Authorization: Bearer \(token.dropLast())x", base + "/v1/status"])
        XCTAssertEqual(wrong.status, 401)
        XCTAssertFalse(wrong.body.contains(token.dropLast()), wrong.body)
        XCTAssertEqual(try curl(["-H", "Authorization: Basic \(token)", base + "/v1/status"]).status, 401)
        XCTAssertEqual(try curl(["-H", "Authorization: Bearer second-token-0000", base + "/v1/status"]).status, 200)
        XCTAssertEqual(try curl(auth + [base + "/v1/status"]).status, 200)
        XCTAssertEqual(try curl([base + "/metrics"]).status, 401)
        XCTAssertFalse(daemon.stop().log.contains(token.dropLast()))
        self.daemon = nil
    }

    func testBodyOverTheLimitIs413() throws {
        _ = try startHTTP()
        let big = #"{"input":"\#(String(repeating: "x", count: 4000))"}"#
        let refused = try post("/v1/speak", json: big)
        XCTAssertEqual(refused.status, 413, refused.body)
        XCTAssertTrue(refused.body.contains("max_body_bytes"), refused.body)
        // Chunked, without a length: refused while reading.
        let chunked = try curl(auth + ["-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/json",
                                       "--data-binary", big, base + "/v1/speak"])
        XCTAssertEqual(chunked.status, 413, chunked.body)
        XCTAssertTrue(try XCTUnwrap(upstream).requests().isEmpty)
    }

    func testFloodIsLimitedWhileAnotherClientSpeaks() throws {
        _ = try startHTTP(extra: "rate_limit = 5\nrate_burst = 5")
        // wrk floods from 127.0.0.1 for 3 s, in the background.
        let flood = try Child("/usr/bin/wrk", ["-t1", "-c8", "-d3s", "-H", "Authorization: Bearer \(token)", base + "/v1/status"])
        usleep(200_000)
        let limited = try curl(auth + ["-i", base + "/v1/status"])
        XCTAssertEqual(limited.status, 429)
        XCTAssertTrue(limited.body.lowercased().contains("retry-after: 1"), limited.body)
        XCTAssertTrue(limited.body.contains("rate_limited"), limited.body)
        // Another client is served meanwhile, and its speech is heard.
        let other = try post("/v1/speak?wait=true", json: #"{"input":"Still served."}"#, from: "127.0.0.2")
        XCTAssertTrue(flood.process.isRunning, "the flood ended before the other client was served; make it longer")
        XCTAssertEqual(other.status, 200, other.body)
        XCTAssertEqual(json(other.body)["state"] as? String, "finished", other.body)
        let report = flood.finish().stdout
        func figure(_ prefix: String) -> Double? {
            report.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        let total = try XCTUnwrap(report.split(separator: "\n").first { $0.contains("requests in") }
            .flatMap { Double($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }, report)
        let refused = try XCTUnwrap(figure("Non-2xx or 3xx responses:"), report)
        XCTAssertGreaterThan(refused, total * 0.9, report)
        XCTAssertLessThanOrEqual(total - refused, 5 + 3 * 5 + 2, "more than burst + rate × time got through: \(report)")
    }

    func testMetricsCountTheJobsRun() throws {
        _ = try startHTTP()
        for text in ["One metric.", "Two metrics."] {
            XCTAssertEqual(json(try post("/v1/speak?wait=true", json: #"{"input":"\#(text)"}"#).body)["state"] as? String, "finished")
        }
        let job = try XCTUnwrap(json(try post("/v1/speak", json: #"{"input":"\#(String(repeating: "long ", count: 40))"}"#).body)["job"] as? String)
        let cancelled = try post("/v1/jobs/\(job)/cancel")
        XCTAssertEqual(json(cancelled.body)["cancelled"] as? Int, 1)
        usleep(300_000)
        let scrape = try curl(auth + ["-i", base + "/metrics"])
        XCTAssertEqual(scrape.status, 200)
        XCTAssertTrue(scrape.body.contains("text/plain; version=0.0.4"), scrape.body)
        let text = String(scrape.body[scrape.body.range(of: "\r\n\r\n")!.upperBound...])
        let metrics = try PrometheusText(parsing: text)
        XCTAssertEqual(metrics.value("speakd_jobs_accepted_total"), 3, text)
        XCTAssertEqual(metrics.value("speakd_jobs_total", ["outcome": "finished"]), 2, text)
        XCTAssertEqual(metrics.value("speakd_jobs_total", ["outcome": "cancelled"]), 1, text)
        XCTAssertEqual(metrics.value("speakd_jobs_total", ["outcome": "failed"]), 0, text)
        XCTAssertGreaterThanOrEqual(metrics.value("speakd_time_to_first_sound_seconds_count") ?? 0, 2, text)
        XCTAssertEqual(metrics.value("speakd_audio_underruns_total"), 0, text)
        XCTAssertEqual(metrics.value("speakd_queue_jobs"), 0, text)
        XCTAssertEqual(metrics.value("speakd_audio_device_up"), 1, text)
        // The phrase cache's own counts (one lookup per segment; the long text has several).
        let cache = try XCTUnwrap(try XCTUnwrap(daemon).connect().request("cache", ["action": .string("stats")]).cache)
        XCTAssertGreaterThanOrEqual(cache.misses, 3)
        XCTAssertEqual(metrics.value("speakd_phrase_cache_misses_total"), Double(cache.misses), text)
        XCTAssertEqual(metrics.value("speakd_phrase_cache_hits_total"), Double(cache.hits), text)
        XCTAssertEqual(metrics.value("speakd_upstream_errors_total", ["kind": "unavailable"]), 0, text)
        XCTAssertEqual(metrics.types["speakd_time_to_first_sound_seconds"], "histogram")
        // The same text on the Unix socket.
        let reply = try XCTUnwrap(daemon).connect().request("metrics")
        let local = try PrometheusText(parsing: try XCTUnwrap(reply.metrics))
        XCTAssertEqual(local.value("speakd_jobs_total", ["outcome": "finished"]), 2)
    }

    /// docs/http-api.yaml against the running door: every path and method it documents answers (not 404/405), and
    /// an undocumented one does not.
    func testEveryDocumentedRouteAnswers() throws {
        _ = try startHTTP()
        let document = try String(contentsOf: Harness.packageRoot.appendingPathComponent("docs/http-api.yaml"), encoding: .utf8)
        let routes = OpenAPIRoutes(yaml: document).routes
        XCTAssertGreaterThanOrEqual(routes.count, 10)
        for (method, path) in routes {
            let concrete = path.replacingOccurrences(of: "{job}", with: "1")
            var arguments = auth + ["-X", method, "--max-time", "2"]
            if path == "/v1/speak" { arguments += ["-H", "Content-Type: text/plain", "--data-binary", "Doc check."] }
            let bodyFile = directory.appendingPathComponent("route")
            let result = try Child("/usr/bin/curl", ["-s", "-o", bodyFile.path, "-w", "%{http_code}"] + arguments + [base + concrete]).finish()
            let body = (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? ""
            // A route that exists: anything but the router's 404/405 (job 1 may be unknown: a 404 that says so).
            let answered = !["404", "405", "000"].contains(result.stdout) || body.contains("unknown_job")
            XCTAssertTrue(answered, "\(method) \(path) answered \(result.stdout): \(body)")
        }
        XCTAssertEqual(try curl(auth + [base + "/v1/nothing"]).status, 404)
    }

    /// HTTPS with a certificate from a test CA: curl trusting that CA is served; one that does not is refused.
    func testTLSWithATestCA() throws {
        let ca = directory.appendingPathComponent("ca").path, server = directory.appendingPathComponent("server").path
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout \(ca).key -out \(ca).pem -days 2 -subj /CN=speakd-test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout \(server).key -out \(server).csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > \(server).ext
            openssl x509 -req -in \(server).csr -CA \(ca).pem -CAkey \(ca).key -CAcreateserial -out \(server).pem -days 2 -extfile \(server).ext 2>/dev/null
            chmod 600 \(server).key
            """
        let made = try Child("/bin/sh", ["-c", script]).finish()
        XCTAssertEqual(made.status, 0, made.stderr)
        let daemon = try startHTTP(extra: "tls_certificate = \"\(server).pem\"\ntls_key = \"\(server).key\"")
        let https = "https://localhost:\(port)"
        let trusted = try curl(auth + ["--cacert", "\(ca).pem", https + "/v1/status"])
        XCTAssertEqual(trusted.status, 200, trusted.body)
        let heard = try curl(auth + ["--cacert", "\(ca).pem", "-H", "Content-Type: text/plain", "--data-binary", "Over TLS.",
                                     https + "/v1/speak?wait=true"])
        XCTAssertEqual(json(heard.body)["state"] as? String, "finished", heard.body)
        let untrusted = try Child("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + auth + [https + "/v1/status"]).finish()
        XCTAssertNotEqual(untrusted.status, 0, "curl accepted a certificate from an unknown CA")
        let plain = try Child("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + auth
                              + ["http://localhost:\(port)/v1/status"]).finish()
        XCTAssertEqual(plain.stdout, "000", "plain HTTP was served on the TLS port")
        // A renewed certificate (from another CA) is served after SIGHUP, without a restart.
        let renew = script.replacingOccurrences(of: ca, with: ca + "2")
        XCTAssertEqual(try Child("/bin/sh", ["-c", renew]).finish().status, 0)
        XCTAssertEqual(try curl(auth + ["--cacert", "\(ca).pem", https + "/v1/status"]).status, 200, "before SIGHUP: the old one")
        daemon.child.process.signal(SIGHUP)
        usleep(500_000)
        XCTAssertEqual(try curl(auth + ["--cacert", "\(ca)2.pem", https + "/v1/status"]).status, 200, "after SIGHUP: the new one")
        XCTAssertTrue(daemon.child.process.isRunning)
        let key = try String(contentsOfFile: "\(server).key", encoding: .utf8)
        let keyLine = String(key.split(separator: "\n")[1])
        let log = daemon.stop().log
        self.daemon = nil
        XCTAssertFalse(log.contains(keyLine), "the private key appears in the log")
        XCTAssertFalse(log.contains(token))
    }

    func testRefusesToListenBeyondLoopbackWithoutAToken() throws {
        let configFile = directory.appendingPathComponent("open.toml")
        try "[http]\nenabled = true\naddress = \"0.0.0.0\"\nport = \(Harness.unusedPort())\n".write(to: configFile, atomically: true, encoding: .utf8)
        let result = try Child(Harness.binDirectory.appendingPathComponent("speakd").path,
                               ["--socket", directory.appendingPathComponent("s.sock").path, "--config", configFile.path,
                                "--engine", "espeak-ng"]).finish()
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("beyond loopback"), result.stderr)
    }
}

/// The `paths:` of an OpenAPI document (YAML, as docs/http-api.yaml writes it): two-space path keys, four-space
/// method keys. Enough for our own document; the test fails if it finds too few.
struct OpenAPIRoutes {
    var routes: [(method: String, path: String)] = []

    init(yaml: String) {
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.isEmpty, !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()); continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("    "), !line.hasPrefix("     "), let path,
               ["get:", "post:", "put:", "delete:", "patch:"].contains(trimmed) {
                routes.append((String(trimmed.dropLast()).uppercased(), path))
            }
        }
    }
}
