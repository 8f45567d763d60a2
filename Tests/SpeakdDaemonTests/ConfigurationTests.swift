import SpeakdProtocol
import XCTest
@testable import SpeakdDaemon
import SpeakdSynthesis

final class TOMLDocumentTests: XCTestCase {
    func testTheSubsetParses() throws {
        let document = try TOMLDocument(parsing: """
            # comment
            name = "a \\"quoted\\" \\u00e9 string"   # trailing comment
            literal = 'C:\\path'
            count = 1_000
            ratio = 0.5
            on = true
            list = [1, "two", false]
            [table.sub]
            "quoted key" = 3
            dotted.key = "x"
            """)
        XCTAssertEqual(document.root["name"]?.value, .string("a \"quoted\" é string"))
        XCTAssertEqual(document.root["literal"]?.value, .string("C:\\path"))
        XCTAssertEqual(document.root["count"]?.value, .integer(1000))
        XCTAssertEqual(document.root["ratio"]?.value, .float(0.5))
        XCTAssertEqual(document.root["on"]?.value, .bool(true))
        XCTAssertEqual(document.root["list"]?.value, .array([.integer(1), .string("two"), .bool(false)]))
        guard case .table(let table)? = document.root["table"]?.value, case .table(let sub)? = table["sub"]?.value else {
            return XCTFail("no [table.sub]")
        }
        XCTAssertEqual(sub["quoted key"]?.value, .integer(3))
        XCTAssertEqual(sub["quoted key"]?.line, 9)
        guard case .table(let dotted)? = sub["dotted"]?.value else { return XCTFail("no dotted key") }
        XCTAssertEqual(dotted["key"]?.value, .string("x"))
    }

    func testErrorsNameTheLine() {
        let cases: [(String, Int, String)] = [
            ("a = 1\nb = \"open", 2, "unterminated"),
            ("a = 1\na = 2", 2, "defined twice"),
            ("[x]\n[x]", 2, "defined twice"),
            ("a = {b = 1}", 1, "inline tables"),
            ("a = 1979-05-27", 1, "dates"),
            ("a = bare", 1, "strings need quotes"),
            ("= 1", 1, "expected a key"),
            ("a 1", 1, "expected ="),
            ("a = 1 2", 1, "unexpected text"),
            ("[[x]]", 1, "arrays of tables"),
            ("a = \"\"\"x", 1, "multi-line"),
            ("a = 1\n[a]", 2, "already a value"),
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try TOMLDocument(parsing: text), text) { error in
                let parseError = error as? TOMLDocument.ParseError
                XCTAssertEqual(parseError?.line, line, "\(text): \(error)")
                XCTAssertTrue(parseError?.reason.contains(reason) == true, "\(text): \(error)")
            }
        }
    }
}

final class ConfigurationFileTests: XCTestCase {
    static let full = """
        socket = "/run/test/speakd.sock"
        engine = "openai"
        log_level = "debug"
        default_upstream = "kokoro"
        voice = "nova"
        model = "tts-1-hd"

        [audio]
        device = "hw:1"
        period_ms = 5
        buffer_ms = 20

        [embedded]
        voice = "de"

        [upstream.openai]
        base_url = "https://api.openai.com/v1"
        api_key_env = "MY_OPENAI_KEY"
        model = "gpt-4o-mini-tts"
        voice = "coral"
        connect_timeout = 3
        read_timeout = 30

        [upstream.kokoro]
        base_url = "http://kokoro.lan:8880/v1"
        api_key = "sk-kokoro-secret-1234"
        sample_rate = 22050
        channels = 2
        first_byte_timeout = 60
        idle_timeout = 4
        speed_range = [1, 2.0]
        [upstream.kokoro.extra_body]
        stream = true
        lang_code = "a"
        """

    func testEveryDocumentedKeyIsRead() throws {
        let file = try ConfigurationFile(path: "t.toml", text: Self.full)
        XCTAssertEqual(file.socket, "/run/test/speakd.sock")
        XCTAssertEqual(file.engine, .openai)
        XCTAssertEqual(file.logLevel, "debug")
        XCTAssertEqual(file.defaultUpstream, "kokoro")
        XCTAssertEqual(file.voice, "nova")
        XCTAssertEqual(file.model, "tts-1-hd")
        XCTAssertEqual(file.device, "hw:1")
        XCTAssertEqual(file.periodMilliseconds, 5)
        XCTAssertEqual(file.bufferMilliseconds, 20)
        XCTAssertEqual(file.embeddedVoice, "de")
        XCTAssertEqual(file.upstreams.map(\.name), ["openai", "kokoro"], "in file order")
        let openai = file.upstreams[0]
        XCTAssertEqual(openai.apiKeyEnvironment, "MY_OPENAI_KEY")
        XCTAssertEqual(openai.model, "gpt-4o-mini-tts")
        XCTAssertEqual(openai.voice, "coral")
        XCTAssertEqual(openai.connectTimeoutSeconds, 3)
        XCTAssertEqual(openai.firstByteTimeoutSeconds, 30, "read_timeout sets both waits")
        XCTAssertEqual(openai.idleTimeoutSeconds, 30)
        let kokoro = file.upstreams[1]
        XCTAssertEqual(kokoro.apiKey, "sk-kokoro-secret-1234")
        XCTAssertEqual(kokoro.sampleRate, 22050)
        XCTAssertEqual(kokoro.channels, 2)
        XCTAssertEqual(kokoro.firstByteTimeoutSeconds, 60)
        XCTAssertEqual(kokoro.idleTimeoutSeconds, 4)
        XCTAssertNil(kokoro.connectTimeoutSeconds)
        XCTAssertEqual(kokoro.speedRange, 1.0...2.0)
        XCTAssertNil(openai.speedRange, "learned when not configured")
        XCTAssertEqual(kokoro.extraBody, ["stream": .bool(true), "lang_code": .string("a")])
    }

    func testTheExampleFileIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/config.toml.example")
        let file = try ConfigurationFile(path: url.path, text: String(contentsOf: url, encoding: .utf8))
        XCTAssertTrue(file.upstreams.isEmpty, "the example must leave espeak-ng speaking until the user configures an upstream")
    }

    /// docs/architecture.md#limits states each limit; this keeps it true.
    func testTheDocumentedLimitsAreTheRealOnes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/architecture.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let table = try XCTUnwrap(text.components(separatedBy: "## Limits").dropFirst().first?.components(separatedBy: "\n## ").first)
        func row(_ setting: String) -> String { table.split(separator: "\n").first { $0.contains(setting) }.map(String.init) ?? "" }
        func formatted(_ number: Int) -> String {
            var digits = String(number), grouped = ""
            while digits.count > 3 { grouped = "," + digits.suffix(3) + grouped; digits.removeLast(3) }
            return digits + grouped
        }
        let options = DaemonOptions(socketPath: "/unused")
        let upstream = UpstreamConfiguration()
        XCTAssertTrue(row("max_connections").contains(formatted(options.maxConnections)), row("max_connections"))
        XCTAssertTrue(row("max_queued_jobs").contains(formatted(options.maxQueuedJobs)), row("max_queued_jobs"))
        XCTAssertTrue(row("request line").contains(formatted(options.maxLineBytes)) && row("request line").contains("max_line_bytes"), row("request line"))
        XCTAssertTrue(row("a job's text").contains(formatted(options.maxTextCharacters)) && row("a job's text").contains("max_text_characters"), row("a job's text"))
        XCTAssertTrue(row("one upstream request").contains(formatted(SpeechLimits.upstreamInputMaxCharacters)))
        XCTAssertTrue(row("left unread").contains(formatted(options.maxUnreadBytes)) && row("left unread").contains("max_unread_bytes"), row("left unread"))
        XCTAssertEqual(options.maxUnreadBytes, ControlServer.defaultMaximumUnreadBytes)
        XCTAssertTrue(row("connect_timeout").contains("| \(upstream.connectTimeoutSeconds) s"), row("connect_timeout"))
        XCTAssertTrue(row("first_byte_timeout").contains("| \(upstream.firstByteTimeoutSeconds) s"), row("first_byte_timeout"))
        XCTAssertTrue(row("idle_timeout").contains("| \(upstream.idleTimeoutSeconds) s"), row("idle_timeout"))
        let policy = RetryPolicy()
        XCTAssertTrue(row("retries").contains("\(policy.maxAttempts) tries") && row("retries").contains("at most \(Int(policy.longestAcceptableWaitSeconds)) s"), row("retries"))
    }

    func testCheckConfigShowsTheLimitsAndTimeouts() throws {
        let file = try ConfigurationFile(path: "t.toml", text: "[upstream.kokoro]\nbase_url = \"http://k/v1\"\nidle_timeout = 4\n")
        let text = try SettingsResolver.resolve(flags: CommandLineSettings(), environment: [:], file: file).describe()
        for expected in ["max_connections = 1024", "max_queued_jobs = 10000", "max_line_bytes = 8388608", "max_text_characters = 1000000", "max_unread_bytes = 4194304",
                         "connect_timeout = 5", "first_byte_timeout = 20", "idle_timeout = 4"] {
            XCTAssertTrue(text.contains(expected), "\(expected) missing from:\n\(text)")
        }
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("idle_timeout = 4") && $0.hasSuffix("# file") }, text)
        XCTAssertTrue(text.contains("# speed_range: learned"), text)
    }

    func testSpeedRangeReachesTheUpstreamAndCheckConfig() throws {
        let file = try ConfigurationFile(path: "t.toml", text: "[upstream.kokoro]\nbase_url = \"http://k/v1\"\nspeed_range = [1.0, 2.0]\n")
        let settings = try SettingsResolver.resolve(flags: CommandLineSettings(), environment: [:], file: file)
        XCTAssertEqual(settings.options.upstreams.first?.configuration.speedRange, 1.0...2.0)
        let text = settings.describe()
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("speed_range = [1.0, 2.0]") && $0.hasSuffix("# file") }, text)
    }

    func testMistakesAreRefusedWithLineAndReason() {
        let cases: [(String, Int, String)] = [
            ("[audio]\ndevise = \"hw:0\"", 2, "unknown key \"devise\" in [audio]"),
            ("engine = \"fast\"", 1, "engine must be one of"),
            ("[audio]\nperiod_ms = \"10\"", 2, "must be an integer"),
            ("[audio]\nbuffer_ms = 5000", 2, "between 2 and 2000"),
            ("default_upstream = \"nope\"", 1, "no [upstream.nope]"),
            ("[upstream.x]\nbase_url = \"ftp://x\"", 2, "http:// or https://"),
            ("[upstream.x]\napi_key = \"a\"\napi_key_file = \"/k\"", 1, "more than one"),
            ("\n\n[upstream.x]\nsample_rate = 1", 4, "between 4000"),
            ("voice = 3", 1, "must be a string"),
            ("[upstream.x]\nspeed_range = [2.0, 1.0]", 2, "speed_range in [upstream.x] must be [lowest, highest]"),
            ("[upstream.x]\nspeed_range = [0.1, 1.0]", 2, "between 0.25 and 4.0"),
            ("[upstream.x]\nspeed_range = 1.5", 2, "speed_range"),
            ("[upstream.x]\nspeed_range = [1.0]", 2, "speed_range"),
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try ConfigurationFile(path: "c.toml", text: text), text) { error in
                let invalid = error as? ConfigurationFile.Invalid
                XCTAssertEqual(invalid?.line, line, "\(text): \(error)")
                XCTAssertTrue(invalid?.reason.contains(reason) == true, "\(text): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("c.toml:\(line): "), "\(error)")
            }
        }
    }
}

final class SettingsResolverTests: XCTestCase {
    private func resolve(_ flags: CommandLineSettings = CommandLineSettings(), environment: [String: String] = [:],
                         file text: String? = nil) throws -> ResolvedSettings {
        let file = try text.map { try ConfigurationFile(path: "c.toml", text: $0) }
        return try SettingsResolver.resolve(flags: flags, environment: environment, file: file)
    }

    func testDefaultsWithNothingGivenSpeakOffline() throws {
        let settings = try resolve(environment: ["XDG_RUNTIME_DIR": "/run/user/7"])
        XCTAssertEqual(settings.options.socketPath, "/run/user/7/speakd.sock")
        XCTAssertTrue(settings.options.upstreams.isEmpty)
        XCTAssertNil(settings.options.defaultUpstream)
        XCTAssertEqual(settings.options.device, "default")
        XCTAssertEqual(settings.logLevel, "info")
    }

    func testFlagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let file = "socket = \"/file.sock\"\n[audio]\ndevice = \"file-device\"\nperiod_ms = 5\n[upstream.openai]\nbase_url = \"http://file/v1\"\napi_key = \"sk-from-the-file-0000\""
        var flags = CommandLineSettings()
        flags.device = "flag-device"
        flags.apiBase = "http://flag/v1"
        let environment = ["SPEAKD_SOCKET": "/env.sock", "OPENAI_BASE_URL": "http://env/v1", "OPENAI_API_KEY": "sk-from-the-env-1111"]
        let settings = try resolve(flags, environment: environment, file: file)
        XCTAssertEqual(settings.options.device, "flag-device")        // flag over file
        XCTAssertEqual(settings.options.socketPath, "/env.sock")       // environment over file
        XCTAssertEqual(settings.options.periodMicroseconds, 5_000)     // file over default
        XCTAssertEqual(settings.options.bufferMicroseconds, 80_000)    // default
        let openai = try XCTUnwrap(settings.options.upstreams.first)
        XCTAssertEqual(openai.configuration.baseURL, "http://flag/v1") // flag over environment over file
        XCTAssertEqual(openai.configuration.apiKey, "sk-from-the-env-1111") // environment over file
        XCTAssertEqual(settings.sources["audio.device"], "flag")
        XCTAssertEqual(settings.sources["socket"], "environment SPEAKD_SOCKET")
        XCTAssertEqual(settings.sources["upstream.openai.api_key"], "environment OPENAI_API_KEY")
    }

    func testTheSDKVariablesDescribeOnlyTheOpenAIUpstream() throws {
        let file = "[upstream.kokoro]\nbase_url = \"http://kokoro.lan/v1\""
        let settings = try resolve(environment: ["OPENAI_API_KEY": "sk-secret-for-openai-only"], file: file)
        XCTAssertEqual(settings.options.defaultUpstream, "kokoro")
        let kokoro = try XCTUnwrap(settings.options.upstreams.first { $0.name == "kokoro" })
        XCTAssertNil(kokoro.configuration.apiKey, "an OpenAI key must never be sent to another server")
        XCTAssertEqual(settings.options.upstreams.first { $0.name == "openai" }?.configuration.apiKey, "sk-secret-for-openai-only")
    }

    func testKeysFromFilesEnvironmentAndCredentials() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "sk-credential-key-5555\n".write(to: directory.appendingPathComponent("openai-key"), atomically: true, encoding: .utf8)
        try "  sk-file-key-6666  \nsecond line\n".write(to: directory.appendingPathComponent("key.txt"), atomically: true, encoding: .utf8)
        // Key files must be private; a readable one is refused with a message saying how to fix it.
        chmod(directory.appendingPathComponent("openai-key").path, 0o400)
        chmod(directory.appendingPathComponent("key.txt").path, 0o644)
        XCTAssertThrowsError(try resolve(environment: [:], file: "[upstream.b]\napi_key_file = \"\(directory.path)/key.txt\"")) { error in
            XCTAssertTrue("\(error)".contains("readable by group or others"), "\(error)")
            XCTAssertTrue("\(error)".contains("chmod 600"), "\(error)")
        }
        chmod(directory.appendingPathComponent("key.txt").path, 0o600)
        let file = """
            [upstream.a]
            api_key_credential = "openai-key"
            [upstream.b]
            api_key_file = "\(directory.path)/key.txt"
            [upstream.c]
            api_key_env = "C_KEY"
            """
        let settings = try resolve(environment: ["CREDENTIALS_DIRECTORY": directory.path, "C_KEY": "sk-env-key-7777"], file: file)
        let keys = Dictionary(uniqueKeysWithValues: settings.options.upstreams.map { ($0.name, $0.configuration.apiKey) })
        XCTAssertEqual(keys["a"], "sk-credential-key-5555")
        XCTAssertEqual(keys["b"], "sk-file-key-6666")
        XCTAssertEqual(keys["c"], "sk-env-key-7777")
        XCTAssertThrowsError(try resolve(file: "[upstream.a]\napi_key_credential = \"k\"")) { error in
            XCTAssertTrue("\(error)".contains("CREDENTIALS_DIRECTORY"), "\(error)")
        }
        XCTAssertThrowsError(try resolve(file: "[upstream.a]\napi_key_env = \"UNSET_VARIABLE\"")) { error in
            XCTAssertTrue("\(error)".contains("UNSET_VARIABLE"), "\(error)")
        }
    }

    func testCheckConfigMasksSecrets() throws {
        let settings = try resolve(environment: ["OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwxyz9876"],
                                   file: ConfigurationFileTests.full.replacingOccurrences(of: "api_key_env = \"MY_OPENAI_KEY\"\n", with: ""))
        let text = settings.describe()
        XCTAssertFalse(text.contains("abcdefghijklmnop"), text)
        XCTAssertFalse(text.contains("kokoro-secret"), text)
        XCTAssertTrue(text.contains("sk-…9876"), text)
        XCTAssertTrue(text.contains("sk-…1234"), text)
        XCTAssertTrue(text.contains("[upstream.kokoro]"), text)
        XCTAssertTrue(text.contains("stream = true"), text)
        // What it prints is itself a valid configuration file (comments and all).
        XCTAssertNoThrow(try TOMLDocument(parsing: text), text)
    }

    func testUnknownUpstreamFlagIsRefused() {
        var flags = CommandLineSettings()
        flags.upstream = "nowhere"
        XCTAssertThrowsError(try resolve(flags)) { error in
            XCTAssertTrue("\(error)".contains("nowhere"), "\(error)")
        }
    }
}
