import Foundation
import SpeakdProtocol
import XCTest

/// What the HTTP and MQTT front-door tests share: a daemon with a configuration file, curl, and a parser of
/// Prometheus' text format.
extension IntegrationTestCase {
    /// A daemon over the mock upstream, with `config` appended to its configuration file; recording the null sink.
    func startDaemon(config: String, msPerChar: Double = 10) throws -> DaemonProcess {
        let upstream = try MockUpstream(["--ms-per-char", "\(msPerChar)"], in: directory)
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let configFile = directory.appendingPathComponent("speakd.toml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        self.upstream = upstream
        if recorder == nil { recorder = try SinkRecorder(in: directory) }
        let daemon = try DaemonProcess(arguments: ["--config", configFile.path, "--api-base", upstream.baseURL,
                                                   "--api-key-file", keyFile.path], in: directory)
        self.daemon = daemon
        return daemon
    }

    /// Waits until something accepts TCP connections on the loopback `port`.
    func waitForPort(_ port: Int, timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(probe)
            if connected == 0 { return }
            usleep(20_000)
        }
        throw HarnessError("nothing listens on port \(port)")
    }

    /// Runs curl; returns the HTTP status and the body.
    @discardableResult
    func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let bodyFile = directory.appendingPathComponent("curl-\(UUID().uuidString.prefix(6))")
        let (exit, stdout, stderr) = try Child("/usr/bin/curl", ["-sS", "-o", bodyFile.path, "-w", "%{http_code}", "--max-time", "60"]
                                                + arguments).finish()
        guard exit == 0 else { throw HarnessError("curl \(arguments) failed (\(exit)): \(stderr)") }
        let body = (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: bodyFile)
        return (Int(stdout) ?? 0, body)
    }

    /// A test CA (`NAME-ca.pem`) and a server certificate it signed for localhost and 127.0.0.1 (`NAME-server.pem`,
    /// key `NAME-server.key`, private), made with openssl in the test's directory. Returns their path prefix.
    func makeTestCertificates(_ name: String) throws -> String {
        let prefix = directory.appendingPathComponent(name).path
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout \(prefix)-ca.key -out \(prefix)-ca.pem -days 2 -subj /CN=\(name)-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout \(prefix)-server.key -out \(prefix)-server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > \(prefix)-server.ext
            openssl x509 -req -in \(prefix)-server.csr -CA \(prefix)-ca.pem -CAkey \(prefix)-ca.key -CAcreateserial -out \(prefix)-server.pem -days 2 -extfile \(prefix)-server.ext 2>/dev/null
            chmod 600 \(prefix)-server.key
            """
        let made = try Child("/bin/sh", ["-c", script]).finish()
        guard made.status == 0 else { throw HarnessError("openssl failed: \(made.stderr)") }
        return prefix
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? {
            XCTFail("not a JSON object: \(text)", file: file, line: line)
            return [:]
        }()
    }
}

/// Prometheus' text exposition format (0.0.4), parsed strictly enough to fail on what a scraper would reject:
/// every sample belongs to a family declared by `# TYPE`, names and labels are well-formed, values are numbers,
/// histogram buckets are cumulative and end with `+Inf` equal to `_count`.
struct PrometheusText {
    struct Sample { var name: String; var labels: [String: String]; var value: Double }
    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(parsing text: String) throws {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                    throw HarnessError("bad TYPE line: \(line)")
                }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
        for sample in samples {
            let family = types[sample.name] != nil ? sample.name
                : ["_bucket", "_sum", "_count", "_total"].lazy.compactMap { suffix in
                    sample.name.hasSuffix(suffix) ? String(sample.name.dropLast(suffix.count)) : nil }.first { types[$0] != nil }
            guard family != nil else { throw HarnessError("sample \(sample.name) has no # TYPE") }
        }
        for (family, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.name == family + "_bucket" }
            guard let infinity = buckets.first(where: { $0.labels["le"] == "+Inf" }) else { throw HarnessError("\(family) has no +Inf bucket") }
            let counts = buckets.map(\.value)
            guard counts == counts.sorted() else { throw HarnessError("\(family) buckets are not cumulative: \(counts)") }
            guard value(family + "_count") == infinity.value else { throw HarnessError("\(family)_count differs from +Inf") }
        }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    private static func sample(_ line: String) throws -> Sample {
        let nameEnd = line.firstIndex { $0 == "{" || $0 == " " } ?? line.endIndex
        let name = String(line[..<nameEnd])
        guard name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil else {
            throw HarnessError("bad metric name in: \(line)")
        }
        var labels: [String: String] = [:]
        var rest = line[nameEnd...]
        if rest.hasPrefix("{") {
            guard let close = rest.firstIndex(of: "}") else { throw HarnessError("unclosed labels: \(line)") }
            for pair in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") else { throw HarnessError("bad label: \(line)") }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            rest = rest[rest.index(after: close)...]
        }
        let fields = rest.split(separator: " ")
        guard let first = fields.first, let value = Double(first == "+Inf" ? "inf" : String(first)) else {
            throw HarnessError("bad value: \(line)")
        }
        return Sample(name: name, labels: labels, value: value)
    }
}
