import ArgumentParser
import Logging
import SpeakdDaemon
import SpeakdEncoding
import SpeakdProtocol

/// `speakd`: flags, environment and configuration file become `DaemonOptions` (see `SettingsResolver`: flag >
/// environment > file > default); then the daemon runs. All logic lives in SpeakdDaemon.
@main
struct SpeakdCommand: AsyncParsableCommand {
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

    @Option(help: "Unix socket to listen on (default: $SPEAKD_SOCKET, else $XDG_RUNTIME_DIR/speakd.sock, else /run/speakd/speakd.sock).")
    var socket: String?

    @Option(help: "The upstream (an [upstream.NAME] of the configuration file) serving jobs that name none.")
    var upstream: String?

    @Option(help: "API base URL of the default upstream, up to the version (default: $OPENAI_BASE_URL, else https://api.openai.com/v1).")
    var apiBase: String?

    @Option(help: "File holding the default upstream's API key (default: $OPENAI_API_KEY).")
    var apiKeyFile: String?

    @Option(help: "systemd credential (LoadCredential=) holding the default upstream's API key.")
    var apiKeyCredential: String?

    @Option(help: "Engine: auto (an upstream when one is configured, else espeak-ng), openai, espeak-ng.")
    var engine: String?

    @Option(help: "Default model for upstream requests (default: tts-1).")
    var model: String?

    @Option(help: "Default voice for upstream requests (default: alloy).")
    var voice: String?

    @Option(help: "espeak-ng voice for the embedded engine, e.g. en-us, de, fr (default: en-us).")
    var embeddedVoice: String?

    @Option(help: "Priorities whose jobs the embedded engine speaks when the upstream fails: a list such as important,message (the default), all, or none.")
    var fallback: String?

    @Option(help: "Play the default upstream's pcm at this rate whatever it says (for servers that mislabel it).")
    var sampleRate: Int?

    @Option(help: "ALSA device (default: default).")
    var device: String?

    @Option(help: "ALSA period in milliseconds (default: 10).")
    var periodMs: Int?

    @Option(help: "ALSA buffer in milliseconds (default: 40).")
    var bufferMs: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: info).")
    var logLevel: String?

    @Option(help: "Archive every finished job in this directory (default: $SPEAKD_ARCHIVE_DIR; off when none).")
    var archiveDir: String?

    @Option(help: "Archive format: mp3, opus, flac or wav (default: $SPEAKD_ARCHIVE_FORMAT, else opus).")
    var archiveFormat: String?

    @Option(help: "Archive file name without extension; {date}, {time}, {job}, {slug} are replaced (default: {date}-{time}-{job}-{slug}).")
    var archiveName: String?

    @Option(help: "Phrase cache directory (default: $SPEAKD_CACHE_DIR, systemd's $CACHE_DIRECTORY, else $XDG_CACHE_HOME/speakd or ~/.cache/speakd).")
    var cacheDir: String?

    @Flag(help: "Run without the phrase cache: every segment is asked of the upstream, nothing is stored.")
    var noCache = false

    func validate() throws {
        if let engine, EngineChoice(rawValue: engine) == nil {
            throw ValidationError("--engine must be one of: auto, openai, espeak-ng")
        }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of: trace, debug, info, notice, warning, error, critical")
        }
        if let archiveFormat, ArchiveFormat(name: archiveFormat) == nil {
            throw ValidationError("--archive-format must be one of: mp3, opus, flac, wav")
        }
        if let cacheDir, !cacheDir.hasPrefix("/") { throw ValidationError("--cache-dir must be an absolute path") }
        if let periodMs, !(1...500).contains(periodMs) { throw ValidationError("--period-ms must be 1…500") }
        if let bufferMs, !(2...2000).contains(bufferMs) { throw ValidationError("--buffer-ms must be 2…2000") }
        if let sampleRate, !(4_000...192_000).contains(sampleRate) {
            throw ValidationError("--sample-rate must be between 4000 and 192000")
        }
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
