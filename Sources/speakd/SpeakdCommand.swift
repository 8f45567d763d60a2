import ArgumentParser
import Logging
import SpeakdDaemon
import SpeakdEncoding
import SpeakdProtocol

/// `speakd`: flags, environment and configuration file become `DaemonOptions` (see `SettingsResolver`: flag >
/// environment > file > default); then the daemon runs. All logic lives in SpeakdDaemon.
@main
struct SpeakdCommand: AsyncParsableCommand {
    private typealias T = SettingsTable

    static let configuration = CommandConfiguration(
        commandName: "speakd",
        abstract: "Text-to-speech playback daemon: speaks jobs from a Unix socket through an OpenAI-compatible upstream or the embedded espeak-ng engine.",
        discussion: """
            Without an API key, a base URL or an [upstream] section in the configuration file, speakd speaks with \
            the embedded espeak-ng engine, offline. Send it text with speakctl: echo "Hello" | speakctl

            Configuration file: --config, else $XDG_CONFIG_HOME/speakd/config.toml, else \
            /etc/speakd/config.toml (see speakd.toml.example). Every setting is also a flag; flags win over the \
            environment (OPENAI_BASE_URL, OPENAI_API_KEY, SPEAKD_SOCKET), which wins over the file.
            Under systemd: socket activation (LISTEN_FDS), Type=notify, WatchdogSec= and LoadCredential= are supported.
            """,
        version: speakdVersion)

    @Option(help: "Configuration file (TOML).")
    var config: String?

    @Flag(help: "Validate the configuration, print the effective settings with secrets masked, and exit.")
    var checkConfig = false

    // Settings: name, help and range from `SettingsTable`, the one definition (docs/configuration.md is generated
    // from it too).
    @Option(name: .customLong(T.socket.flag!), help: ArgumentHelp(T.socket.flagHelp))
    var socket: String?

    @Option(name: .customLong(T.defaultUpstream.flag!), help: ArgumentHelp(T.defaultUpstream.flagHelp))
    var upstream: String?

    @Option(name: .customLong(T.baseURL.flag!), help: ArgumentHelp(T.baseURL.flagHelp))
    var apiBase: String?

    @Option(name: .customLong(T.apiKeyFile.flag!), help: ArgumentHelp(T.apiKeyFile.flagHelp))
    var apiKeyFile: String?

    @Option(name: .customLong(T.apiKeyCredential.flag!), help: ArgumentHelp(T.apiKeyCredential.flagHelp))
    var apiKeyCredential: String?

    @Option(name: .customLong(T.engine.flag!), help: ArgumentHelp(T.engine.flagHelp))
    var engine: String?

    @Option(name: .customLong(T.model.flag!), help: ArgumentHelp(T.model.flagHelp))
    var model: String?

    @Option(name: .customLong(T.voice.flag!), help: ArgumentHelp(T.voice.flagHelp))
    var voice: String?

    @Option(name: .customLong(T.embeddedVoice.flag!), help: ArgumentHelp(T.embeddedVoice.flagHelp))
    var embeddedVoice: String?

    @Option(name: .customLong(T.fallback.flag!), help: ArgumentHelp(T.fallback.flagHelp))
    var fallback: String?

    @Option(name: .customLong(T.sampleRate.flag!), help: ArgumentHelp(T.sampleRate.flagHelp))
    var sampleRate: Int?

    @Option(name: .customLong(T.device.flag!), help: ArgumentHelp(T.device.flagHelp))
    var device: String?

    @Option(name: .customLong(T.periodMs.flag!), help: ArgumentHelp(T.periodMs.flagHelp))
    var periodMs: Int?

    @Option(name: .customLong(T.bufferMs.flag!), help: ArgumentHelp(T.bufferMs.flagHelp))
    var bufferMs: Int?

    @Option(name: .customLong(T.logLevel.flag!), help: ArgumentHelp(T.logLevel.flagHelp))
    var logLevel: String?

    @Option(name: .customLong(T.archiveDirectory.flag!), help: ArgumentHelp(T.archiveDirectory.flagHelp))
    var archiveDir: String?

    @Option(name: .customLong(T.archiveFormat.flag!), help: ArgumentHelp(T.archiveFormat.flagHelp))
    var archiveFormat: String?

    @Option(name: .customLong(T.archiveNamePattern.flag!), help: ArgumentHelp(T.archiveNamePattern.flagHelp))
    var archiveName: String?

    @Option(name: .customLong(T.cacheDirectory.flag!), help: ArgumentHelp(T.cacheDirectory.flagHelp))
    var cacheDir: String?

    @Flag(name: .customLong(T.cacheEnabled.flag!), help: "Run without the phrase cache: every segment is asked of the upstream, nothing is stored.")
    var noCache = false

    @Flag(help: .private)
    var settingsMarkdown = false

    func validate() throws {
        func check<Value>(_ setting: Setting<Value>, _ value: Int?) throws {
            if let value, let reason = setting.refusal(value, spelled: setting.flagName!) { throw ValidationError(reason) }
        }
        func check<Value>(_ setting: Setting<Value>, _ value: String?) throws {
            if let value, let reason = setting.refusal(value, spelled: setting.flagName!) { throw ValidationError(reason) }
        }
        try check(T.engine, engine)
        try check(T.logLevel, logLevel)
        if let archiveFormat, ArchiveFormat(name: archiveFormat) == nil {
            throw ValidationError("--archive-format must be one of mp3, opus, flac, wav, not \"\(archiveFormat)\"")
        }
        if let cacheDir, !cacheDir.hasPrefix("/") { throw ValidationError("--cache-dir must be an absolute path") }
        try check(T.periodMs, periodMs)
        try check(T.bufferMs, bufferMs)
        try check(T.sampleRate, sampleRate)
        if let apiBase, !(apiBase.hasPrefix("http://") || apiBase.hasPrefix("https://")) {
            throw ValidationError("--api-base must start with http:// or https://")
        }
    }

    var commandLine: CommandLineSettings {
        var settings = CommandLineSettings()
        settings.config = config
        settings.socket = socket
        settings.upstream = upstream
        settings.apiBase = apiBase
        settings.apiKeyFile = apiKeyFile
        settings.apiKeyCredential = apiKeyCredential
        settings.engine = engine.flatMap(EngineChoice.init(rawValue:))
        settings.model = model
        settings.voice = voice
        settings.embeddedVoice = embeddedVoice
        settings.fallback = fallback
        settings.sampleRate = sampleRate
        settings.device = device
        settings.periodMilliseconds = periodMs
        settings.bufferMilliseconds = bufferMs
        settings.logLevel = logLevel
        settings.archiveDirectory = archiveDir
        settings.archiveFormat = archiveFormat.flatMap(ArchiveFormat.init(name:))
        settings.archiveNamePattern = archiveName
        settings.cacheDirectory = cacheDir
        settings.noCache = noCache
        return settings
    }

    func run() async throws {
        if settingsMarkdown {   // docs/configuration.md's table
            print(SettingsTable.markdown(), terminator: "")
            return
        }
        // Before the key is read: a crash must never write it to a core file.
        CoreDumps.forbid()
        let environment = processEnvironment()
        let settings: ResolvedSettings
        do {
            let file = try SettingsResolver.loadFile(flags: commandLine, environment: environment)
            settings = try SettingsResolver.resolve(flags: commandLine, environment: environment, file: file)
        } catch {
            // Before logging is set up: a plain line on stderr, and a failing exit status.
            printError("speakd: invalid configuration: \(error)")
            throw ExitCode(1)
        }
        if checkConfig {
            print(settings.describe(), terminator: "")
            return
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level) }
        let logger = Logger(label: "speakd")
        do {
            try await Daemon.run(settings.options, logger: logger)
        } catch let error as StartupError {
            logger.critical("\(error.description)")
            throw ExitCode(1)
        }
    }
}
