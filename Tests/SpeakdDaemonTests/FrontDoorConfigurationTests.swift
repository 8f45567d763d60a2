import Foundation
import XCTest
@testable import SpeakdDaemon

/// `[http]` and `[mqtt]` in the file: mistakes refused with their line and reason, and `--check-config`'s effective
/// configuration showing what each door will serve without showing a token or password.
final class FrontDoorConfigurationTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("doors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func resolve(_ text: String, environment: [String: String] = [:]) throws -> ResolvedSettings {
        try SettingsResolver.resolve(flags: CommandLineSettings(), environment: environment,
                                     file: ConfigurationFile(path: "c.toml", text: text))
    }

    private func privateFile(_ name: String, _ contents: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    func testMistakesNameTheLineAndTheReason() {
        let cases: [(String, Int, String)] = [
            ("[http]\nport = 70000", 2, "between 0 and 65535"),
            ("[http]\nenabled = \"yes\"", 2, "must be true or false"),
            ("[http]\nmax_connections = 0", 2, "between 1 and 65536"),
            ("[http]\nmax_body_bytes = 10", 2, "between 1024"),
            ("[http]\nrate_limit = 0", 2, "between 1 and 100000"),
            ("[http]\nrate_limit = 50\nrate_burst = 10", 3, "rate_burst (10) must be at least rate_limit (50)"),
            ("[http]\nlisten = \"0.0.0.0\"", 2, "unknown key \"listen\" in [http]"),
            ("[http]\naddress = \"\"", 2, "[http] address must name an address"),
            ("[http]\ntls_certificate = \"/c.pem\"", 2, "both tls_certificate and tls_key"),
            ("[http]\ntoken_file = \"/t\"\ntoken_credential = \"t\"", 1, "both token_file and token_credential"),
            ("[mqtt]\nport = 0", 2, "between 1 and 65535"),
            ("[mqtt]\nnode = \"kitchen/left\"", 2, "[mqtt] node must be one topic level"),
            ("[mqtt]\nhost = \"\"", 2, "[mqtt] host must name the broker"),
            ("[mqtt]\ntopic_prefix = \"speakd/#\"", 2, "[mqtt] topic_prefix must be a topic"),
            ("[mqtt]\ndiscovery_prefix = \"/homeassistant\"", 2, "[mqtt] discovery_prefix must be a topic"),
            ("[mqtt]\npassword_file = \"/p\"", 2, "a password needs a username"),
            ("[mqtt]\nusername = \"u\"\npassword_file = \"/p\"\npassword_credential = \"p\"", 1, "both password_file and password_credential"),
            ("[mqtt]\ntls = true", 2, "unknown key \"tls\" in [mqtt]"),
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try ConfigurationFile(path: "c.toml", text: text), text) { error in
                let invalid = error as? ConfigurationFile.Invalid
                XCTAssertEqual(invalid?.line, line, "\(text): \(error)")
                XCTAssertTrue(invalid?.reason.contains(reason) == true, "\(text): \(error)")
            }
        }
    }

    /// Values that parse but cannot be served: refused before the daemon starts (so `--check-config` fails too).
    func testWhatCannotBeServedIsRefusedAtResolution() throws {
        let tokens = try privateFile("tokens", "# none here\n\n")
        let open = directory.appendingPathComponent("open-tokens").path
        try "tok-1\n".write(toFile: open, atomically: true, encoding: .utf8)
        chmod(open, 0o644)
        let cases: [(String, String)] = [
            ("[http]\nenabled = true\naddress = \"0.0.0.0\"", "beyond loopback: configure a token"),
            ("[http]\nenabled = true\ntoken_file = \"\(tokens)\"", "names no token"),
            ("[http]\nenabled = true\ntoken_file = \"\(open)\"", "chmod 600"),
            ("[http]\nenabled = true\ntoken_file = \"\(directory.path)/missing\"", "no such file"),
            ("[http]\nenabled = true\ntoken_credential = \"speakd-http-token\"", "CREDENTIALS_DIRECTORY"),
            ("[http]\nenabled = true\ntls_certificate = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"",
             "tls_certificate /nonexistent/c.pem cannot be read"),
            ("[mqtt]\nenabled = true\ntls_ca_file = \"/nonexistent/ca.pem\"", "tls_ca_file /nonexistent/ca.pem cannot be read"),
            ("[mqtt]\nenabled = true\nusername = \"u\"\npassword_file = \"\(directory.path)/missing\"", "no such file"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try resolve(text), text) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(text): \(error)")
            }
        }
        // A door that is not enabled is not resolved: its files are not read.
        XCTAssertNil(try resolve("[http]\naddress = \"0.0.0.0\"\ntoken_file = \"/nonexistent\"").options.frontDoors.http)
    }

    func testCheckConfigShowsBothDoorsWithoutTheirSecrets() throws {
        let token = "tok-check-config-5f1e2d"
        let password = "pw-check-config-8c7b6a"
        let tokenFile = try privateFile("tokens", "\(token)\nsecond-token-0000\n")
        let passwordFile = try privateFile("password", password + "\n")
        let certificate = try privateFile("server.pem", "not read here\n")
        let key = try privateFile("server.key", "not read here\n")
        let ca = try privateFile("ca.pem", "not read here\n")
        let settings = try resolve("""
            [http]
            enabled = true
            address = "0.0.0.0"
            port = 9000
            token_file = "\(tokenFile)"
            max_body_bytes = 4096
            max_connections = 8
            rate_limit = 5
            rate_burst = 10
            tls_certificate = "\(certificate)"
            tls_key = "\(key)"
            [mqtt]
            enabled = true
            host = "broker.lan"
            port = 8883
            node = "kitchen"
            username = "speaker"
            password_file = "\(passwordFile)"
            tls_ca_file = "\(ca)"
            """)
        let http = try XCTUnwrap(settings.options.frontDoors.http)
        XCTAssertEqual(http.tokens, [token, "second-token-0000"])
        XCTAssertEqual(http.maxConnections, 8)
        XCTAssertEqual(http.requestsPerSecond, 5)
        XCTAssertEqual(http.burst, 10)
        let mqtt = try XCTUnwrap(settings.options.frontDoors.mqtt)
        XCTAssertEqual(mqtt.password, password)
        XCTAssertEqual(mqtt.caFile, ca)
        let text = settings.describe()
        let lines = text.split(separator: "\n").map(String.init)
        func shown(_ key: String, _ value: String, in section: String, from source: String = "file") {
            let start = lines.firstIndex(of: "[\(section)]") ?? lines.endIndex
            let body = lines[start...].dropFirst().prefix { !$0.hasPrefix("[") }
            XCTAssertTrue(body.contains { $0.hasPrefix("\(key) = \(value)") && $0.hasSuffix("# \(source)") },
                          "[\(section)] \(key) = \(value) # \(source) missing from:\n\(text)")
        }
        shown("enabled", "true", in: "http")
        shown("address", "\"0.0.0.0\"", in: "http")
        shown("port", "9000", in: "http")
        shown("max_body_bytes", "4096", in: "http")
        shown("max_connections", "8", in: "http")
        shown("rate_limit", "5", in: "http")
        shown("rate_burst", "10", in: "http")
        shown("tls_certificate", "\"\(certificate)\"", in: "http")
        shown("host", "\"broker.lan\"", in: "mqtt")
        shown("port", "8883", in: "mqtt")
        shown("node", "\"kitchen\"", in: "mqtt")
        shown("username", "\"speaker\"", in: "mqtt")
        shown("tls_ca_file", "\"\(ca)\"", in: "mqtt")
        shown("topic_prefix", "\"speakd\"", in: "mqtt", from: "default")
        XCTAssertTrue(text.contains("# tokens: 2 from token_file \(tokenFile) (never shown)"), text)
        XCTAssertTrue(text.contains("# password: …7b6a from password_file \(passwordFile)"), text)
        XCTAssertFalse(text.contains(token), "a token is shown:\n\(text)")
        XCTAssertFalse(text.contains("second-token"), "a token is shown:\n\(text)")
        XCTAssertFalse(text.contains(password.dropLast(2)), "the password is shown:\n\(text)")
        XCTAssertNoThrow(try TOMLDocument(parsing: text), text)
    }

    func testCheckConfigShowsTheDoorsOffAndTheDefaults() throws {
        let off = try resolve("").describe()
        for section in ["[http]", "[mqtt]"] {
            let lines = off.split(separator: "\n").map(String.init)
            let start = try XCTUnwrap(lines.firstIndex(of: section), off)
            XCTAssertTrue(lines[start + 1].hasPrefix("enabled = false") && lines[start + 1].hasSuffix("# default"), off)
        }
        let loopback = try resolve("[http]\nenabled = true\n[mqtt]\nenabled = true\n").describe()
        for expected in ["address = \"127.0.0.1\"", "port = 8765", "max_body_bytes = 65536", "max_connections = 64",
                         "rate_limit = 20", "rate_burst = 40", "# tokens: none (loopback only", "# TLS: off (plain HTTP)",
                         "host = \"localhost\"", "port = 1883", "# TLS: off (plain MQTT)", "discovery_prefix = \"homeassistant\""] {
            XCTAssertTrue(loopback.contains(expected), "\(expected) missing from:\n\(loopback)")
        }
        XCTAssertNoThrow(try TOMLDocument(parsing: loopback), loopback)
    }

    /// The systemd credential named by default is read when present, and shown by name.
    func testTheDefaultTokenCredential() throws {
        _ = try privateFile(FrontDoorOptions.defaultTokenCredential, "tok-from-credential-1234\n")
        let settings = try resolve("[http]\nenabled = true\naddress = \"0.0.0.0\"", environment: ["CREDENTIALS_DIRECTORY": directory.path])
        XCTAssertEqual(settings.options.frontDoors.http?.tokens, ["tok-from-credential-1234"])
        XCTAssertTrue(settings.describe().contains("# tokens: 1 from systemd credential speakd-http-token"))
    }
}
