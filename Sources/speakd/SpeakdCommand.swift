import ArgumentParser
import Logging
import SpeakdDaemon
import SpeakdProtocol
import SpeakdSynthesis
#if canImport(Glibc)
import Glibc
#endif

/// `speakd`: parses flags and environment into `DaemonOptions`, then runs the daemon. All logic lives in SpeakdDaemon.
@main
struct SpeakdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speakd",
        abstract: "Text-to-speech playback daemon: speaks jobs from a Unix socket through an OpenAI-compatible upstream or the embedded espeak-ng engine.",
        discussion: """
            Without an API key or --api-base, speakd speaks with the embedded espeak-ng engine, offline.
            Send it text with speakctl: echo "Hello" | speakctl
            """,
        version: speakdVersion)

    @Option(help: "Unix socket to listen on (default: $SPEAKD_SOCKET, else $XDG_RUNTIME_DIR/speakd.sock, else /run/speakd/speakd.sock).")
    var socket: String?

    @Option(help: "OpenAI-compatible API base URL, up to the version (default: $OPENAI_BASE_URL, else https://api.openai.com/v1).")
    var apiBase: String?

    @Option(help: "File holding the API key (default: $OPENAI_API_KEY).")
    var apiKeyFile: String?

    @Option(help: "Engine: auto (the upstream when a key or base URL is set, else espeak-ng), openai, espeak-ng.")
    var engine: String = "auto"

    @Option(help: "Default model for upstream requests.")
    var model: String = "tts-1"

    @Option(help: "Default voice for upstream requests.")
    var voice: String = "alloy"

    @Option(help: "espeak-ng voice for the embedded engine (e.g. en-us, de, fr).")
    var embeddedVoice: String = "en-us"

    @Option(help: "Play pcm from the upstream at this rate whatever it says (for servers that mislabel it).")
    var sampleRate: Int?

    @Option(help: "ALSA device.")
    var device: String = "default"

    @Option(help: "ALSA period in milliseconds.")
    var periodMs: Int = 10

    @Option(help: "ALSA buffer in milliseconds.")
    var bufferMs: Int = 40

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard EngineChoice(rawValue: engine) != nil else {
            throw ValidationError("--engine must be one of: auto, openai, espeak-ng")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of: trace, debug, info, notice, warning, error, critical")
        }
        guard (1...500).contains(periodMs), (2...2000).contains(bufferMs), bufferMs >= 2 * periodMs else {
            throw ValidationError("--period-ms must be 1…500 and --buffer-ms at least twice the period")
        }
        if let sampleRate, !(4_000...192_000).contains(sampleRate) {
            throw ValidationError("--sample-rate must be between 4000 and 192000")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level) }
        let logger = Logger(label: "speakd")
        let environment = processEnvironment()

        var options = DaemonOptions(socketPath: SocketPath.resolve(explicit: socket, environment: environment))
        options.engine = EngineChoice(rawValue: engine) ?? .auto
        options.model = model
        options.voice = voice
        options.embeddedVoice = embeddedVoice
        options.device = device
        options.periodMicroseconds = UInt32(periodMs * 1000)
        options.bufferMicroseconds = UInt32(bufferMs * 1000)
        do {
            options.upstream = try upstreamConfiguration(environment)
            try await Daemon.run(options, logger: logger)
        } catch let error as StartupError {
            logger.critical("\(error.description)")
            throw ExitCode(1)
        }
    }

    /// The upstream from flags and the OpenAI SDK's environment variables; nil when neither key nor base is set.
    private func upstreamConfiguration(_ environment: [String: String]) throws -> UpstreamConfiguration? {
        var key = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if let apiKeyFile {
            key = try readKey(apiKeyFile)
        }
        let base = apiBase ?? environment["OPENAI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        guard key != nil || base != nil else { return nil }
        if let base, !(base.hasPrefix("http://") || base.hasPrefix("https://")) {
            throw StartupError("API base URL \"\(base)\" must start with http:// or https://")
        }
        return UpstreamConfiguration(baseURL: base ?? UpstreamConfiguration.openAIBaseURL, apiKey: key,
                                     sampleRateOverride: sampleRate)
    }

    private func readKey(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else {
            throw StartupError("cannot read the API key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > 65_536 { throw StartupError("the API key file \(path) is too large to be a key") }
        }
        let key = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = key.filter { !$0.isWhitespace }
        guard !trimmed.isEmpty else { throw StartupError("the API key file \(path) is empty") }
        return trimmed
    }
}
