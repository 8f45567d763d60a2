import SpeakdEncoding
import SpeakdHTTP
import SpeakdProtocol
import SpeakdSynthesis

/// A `[table]` of free-form members (`extra_body`): documented, read as a whole.
public struct SettingTableValue: SettingValue, Equatable {
    public static var typeName: String { "table" }
    public var toml: String { "" }
}

/// Every setting of speakd, one row each, in the order of docs/configuration.md.
///
/// To add a setting: add one row here (and to `all`), read it in `ConfigurationFile` with the row
/// (`try table.integer(SettingsTable.x)`), resolve it in `SettingsResolver` (`pick(SettingsTable.x, …)`), give it a
/// flag in `SpeakdCommand` if the row names one, print it in `describe()`, and regenerate the documentation table
/// (`speakd --settings-markdown`, pasted between the markers in docs/configuration.md). `SettingsTableTests` fails
/// until each of those agrees with the row.
///
/// Threading: constants only.
public enum SettingsTable {
    // Top level.
    public static let socket = Setting<String?>("socket", default: nil,
        defaultText: "$XDG_RUNTIME_DIR/speakd.sock, else /run/speakd/speakd.sock", flag: "socket", environment: "SPEAKD_SOCKET",
        help: "Unix socket to listen on")
    public static let allowedUIDs = Setting<[Int]?>("allowed_uids", default: nil, defaultText: "whoever the socket's mode lets in",
        range: 0...Int(UInt32.max), help: "Only these users (and allowed_gids' groups) may use the socket, checked with SO_PEERCRED")
    public static let allowedGIDs = Setting<[Int]?>("allowed_gids", default: nil, defaultText: "whoever the socket's mode lets in",
        range: 0...Int(UInt32.max), help: "Only these groups (and allowed_uids' users) may use the socket")
    public static let engine = Setting<String>("engine", default: EngineChoice.auto.rawValue,
        choices: EngineChoice.allCases.map(\.rawValue), flag: "engine",
        help: "Engine (auto: an upstream when one is configured, else espeak-ng)")
    public static let logLevel = Setting<String>("log_level", default: "info",
        choices: ["trace", "debug", "info", "notice", "warning", "error", "critical"], flag: "log-level", help: "Log level")
    public static let defaultUpstream = Setting<String?>("default_upstream", default: nil, defaultText: "the first [upstream.NAME]",
        flag: "upstream", help: "The upstream (an [upstream.NAME] section) serving jobs that name none")
    public static let voice = Setting<String>("voice", default: "alloy", flag: "voice",
        help: "Voice for upstream requests when neither the job nor its upstream names one")
    public static let model = Setting<String>("model", default: "tts-1", flag: "model",
        help: "Model for upstream requests when neither the job nor its upstream names one")

    // [limits]
    public static let maxConnections = Setting<Int>("limits.max_connections", default: 1_024, range: 1...65_536,
        help: "Connections served at once; more get a too_many_connections reply")
    public static let maxQueuedJobs = Setting<Int>("limits.max_queued_jobs", default: 10_000, range: 1...1_000_000,
        help: "Unfinished jobs; a speak request beyond this is answered queue_full")
    public static let maxLineBytes = Setting<Int>("limits.max_line_bytes", default: SpeechLimits.maxLineBytes,
        range: 1_024...(256 * 1_048_576), help: "Longest request line, in bytes")
    public static let maxTextCharacters = Setting<Int>("limits.max_text_characters", default: SpeechLimits.jobInputMaxCharacters,
        range: 1...10_000_000, help: "Longest text of one job, in characters")
    public static let maxUnreadBytes = Setting<Int>("limits.max_unread_bytes", default: ControlServer.defaultMaximumUnreadBytes,
        range: 65_536...(1_024 * 1_048_576), help: "Replies and events a connection may leave unread before it is dropped")

    // [audio]
    public static let device = Setting<String>("audio.device", default: "default", flag: "device",
        help: "ALSA device: default (PulseAudio/PipeWire on a desktop), hw:0, plughw:1…")
    public static let periodMs = Setting<Int>("audio.period_ms", default: 10, range: 1...500, flag: "period-ms",
        help: "ALSA period in milliseconds")
    public static let bufferMs = Setting<Int>("audio.buffer_ms", default: 80, range: 2...2_000, flag: "buffer-ms",
        help: "ALSA buffer in milliseconds, at least twice the period (costs nothing at start or stop; a pause plays it out)")
    public static let normalize = Setting<Bool>("audio.normalize", default: true, environment: "SPEAKD_NORMALIZE",
        help: "Normalise every voice to loudness_target with a true-peak limiter (a job's normalize: false plays it as synthesized)")
    public static let loudnessTarget = Setting<Int>("audio.loudness_target", default: Int(LoudnessTarget().integrated),
        range: -40...(-5), help: "Integrated loudness to normalise to, in LUFS")
    public static let truePeak = Setting<Int>("audio.true_peak", default: Int(LoudnessTarget().truePeak), range: -9...0,
        help: "True-peak ceiling of the limiter, in dBTP")
    public static let deviceSampleRate = Setting<Int?>("audio.sample_rate", default: nil, defaultText: "each stream's own",
        range: 8_000...192_000, help: "Open the device at this rate whatever the source's (with channels; resampled with soxr)")
    public static let leadInMs = Setting<Int>("audio.lead_in_ms", default: 0, range: 0...2_000,
        help: "Silence before a job when the device was closed or silent for lead_in_after_idle_ms, so a sleeping amplifier or speaker wakes before the first syllable (0: none; a job's lead_in_ms replaces it)")
    public static let leadInAfterIdleMs = Setting<Int>("audio.lead_in_after_idle_ms", default: 5_000, range: 0...3_600_000,
        help: "Silence on an open device for this long counts as asleep too")
    public static let keepOpenMs = Setting<Int>("audio.keep_open_ms", default: 10_000, range: 0...3_600_000,
        help: "Keep the device open this long after speech (the next job starts sooner; a hw: device stays taken)")
    public static let mediaRole = Setting<String>("audio.media_role", default: "announcement",
        help: "media.role of the sound-server stream (PULSE_PROP / PIPEWIRE_PROPS), which ducking policies follow; empty: none")
    public static let deviceChannels = Setting<Int?>("audio.channels", default: nil, defaultText: "each stream's own",
        range: 1...2, help: "Open the device with this many channels whatever the source's (with sample_rate)")

    // [embedded]
    public static let embeddedVoice = Setting<String>("embedded.voice", default: "en-us", flag: "embedded-voice",
        help: "espeak-ng voice for the embedded engine, e.g. en-us, de, fr")
    public static let fallback = Setting<String>("embedded.fallback", default: "important,message", flag: "fallback",
        help: "Priorities whose jobs the embedded engine speaks when the upstream fails: a list such as important,message, all, or none")

    // [archive]
    public static let archiveDirectory = Setting<String?>("archive.directory", default: nil, defaultText: "none: archiving is off",
        flag: "archive-dir", environment: "SPEAKD_ARCHIVE_DIR", help: "Archive every finished job in this directory")
    public static let archiveFormat = Setting<String>("archive.format", default: ArchiveOptions().format.rawValue,
        choices: ArchiveFormat.allCases.map(\.rawValue), flag: "archive-format", environment: "SPEAKD_ARCHIVE_FORMAT",
        help: "Archive format")
    public static let archiveNamePattern = Setting<String>("archive.name_pattern", default: ArchiveOptions.defaultNamePattern,
        flag: "archive-name", help: "Archive file name without extension; {date}, {time}, {job}, {slug} are replaced")
    public static let mp3Quality = Setting<Int>("archive.mp3_quality", default: defaultMP3Quality,
        range: MP3Settings.vbrQualities, help: "lame -V (VBR) quality, 0 best; not with mp3_bitrate")
    public static let mp3Bitrate = Setting<Int?>("archive.mp3_bitrate", default: nil, defaultText: "none: VBR",
        range: 8...320, help: "Constant MP3 bit rate in kbit/s instead of VBR; not with mp3_quality")
    public static let opusBitrate = Setting<Int>("archive.opus_bitrate", default: OpusSettings().bitrate,
        range: OpusSettings.bitrates, help: "Opus bit rate in bit/s")
    public static let flacCompression = Setting<Int>("archive.flac_compression", default: FLACSettings().compressionLevel,
        range: FLACSettings.compressionLevels, help: "FLAC compression level (lossless at every level)")

    // [cache]
    public static let cacheEnabled = Setting<Bool>("cache.enabled", default: true, flag: "no-cache",
        help: "Keep what an upstream synthesized and replay it without a request (--no-cache turns it off)")
    public static let cacheDirectory = Setting<String?>("cache.directory", default: nil,
        defaultText: "$CACHE_DIRECTORY (systemd), else $XDG_CACHE_HOME/speakd, else ~/.cache/speakd",
        flag: "cache-dir", environment: "SPEAKD_CACHE_DIR", help: "Phrase cache directory, an absolute path")
    public static let cacheMaxSizeMB = Setting<Int>("cache.max_size_mb", default: 200, range: 1...1_000_000,
        help: "Size of the cache on disk in MB; least recently used entries are evicted beyond it")
    public static let cacheMaxTextLength = Setting<Int>("cache.max_text_length", default: 500,
        range: 1...SpeechLimits.upstreamInputMaxCharacters, help: "Longer segments, in characters, are not cached")
    public static let cacheMemoryMB = Setting<Int>("cache.memory_mb", default: 16, range: 0...4_096,
        help: "Decoded audio of the most used entries kept in memory, in MB")

    // [upstream.NAME]
    public static let baseURL = Setting<String>("upstream.NAME.base_url", default: UpstreamConfiguration.openAIBaseURL,
        flag: "api-base", environment: "OPENAI_BASE_URL",
        help: "API base URL, up to the version")
    public static let apiKey = Setting<String?>("upstream.NAME.api_key", default: nil, defaultText: "none",
        environment: "OPENAI_API_KEY", help: "API key, inline (keep the file private)")
    public static let apiKeyFile = Setting<String?>("upstream.NAME.api_key_file", default: nil, defaultText: "none",
        flag: "api-key-file", help: "File whose first line is the API key")
    public static let apiKeyEnvironment = Setting<String?>("upstream.NAME.api_key_env", default: nil, defaultText: "none",
        help: "Environment variable holding the API key")
    public static let apiKeyCredential = Setting<String?>("upstream.NAME.api_key_credential", default: nil, defaultText: "none",
        flag: "api-key-credential", help: "systemd credential (LoadCredential=) holding the API key")
    public static let upstreamModel = Setting<String?>("upstream.NAME.model", default: nil, defaultText: "the top-level model",
        help: "Model for this upstream's jobs that name none")
    public static let upstreamVoice = Setting<String?>("upstream.NAME.voice", default: nil, defaultText: "the top-level voice",
        help: "Voice for this upstream's jobs that name none")
    public static let sampleRate = Setting<Int?>("upstream.NAME.sample_rate", default: nil, defaultText: "what the server states, else 24000",
        range: 4_000...192_000, flag: "sample-rate", help: "Play its raw pcm at this rate whatever it says")
    public static let channels = Setting<Int?>("upstream.NAME.channels", default: nil, defaultText: "what the server states, else 1",
        range: 1...8, help: "Take its raw pcm as this many channels whatever it says")
    public static let connectTimeout = Setting<Int>("upstream.NAME.connect_timeout", default: Int(UpstreamConfiguration.defaultConnectTimeout),
        range: 1...300, help: "Seconds to establish the connection")
    public static let firstByteTimeout = Setting<Int>("upstream.NAME.first_byte_timeout", default: Int(UpstreamConfiguration.defaultFirstByteTimeout),
        range: 1...3_600, help: "Seconds from sending the request to the response's headers")
    public static let idleTimeout = Setting<Int>("upstream.NAME.idle_timeout", default: Int(UpstreamConfiguration.defaultIdleTimeout),
        range: 1...3_600, help: "Seconds without audio mid-stream before the stream counts as stalled")
    public static let readTimeout = Setting<Int?>("upstream.NAME.read_timeout", default: nil, defaultText: "none", range: 1...3_600,
        help: "Sets first_byte_timeout and idle_timeout at once, unless they are named",
        deprecated: "write first_byte_timeout and idle_timeout")
    public static let caFile = Setting<String?>("upstream.NAME.ca_file", default: nil, defaultText: "the system's trust store",
        help: "PEM file of the certificate authorities trusted for this upstream, an absolute path")
    public static let keepWarm = Setting<Int>("upstream.NAME.keep_warm", default: 0, range: 0...3_600,
        help: "Refresh a connection idle this many seconds while jobs keep coming (0: off); below the server's keep-alive")
    public static let speedRange = Setting<ClosedRange<Double>?>("upstream.NAME.speed_range", default: nil,
        defaultText: "learned from the server's answers", help: "Speeds the server accepts; others are time-stretched locally ([1.0, 1.0]: it ignores speed)")
    public static let concurrentRequests = Setting<Int?>("upstream.NAME.concurrent_requests", default: nil,
        defaultText: "unknown: the first request runs alone", range: 1...8, help: "Requests the server serves side by side without slowing each")
    public static let extraBody = Setting<SettingTableValue?>("upstream.NAME.extra_body", default: nil, defaultText: "none",
        help: "Extra request members sent only to this upstream (OpenAI refuses unknown ones)")

    // [media_roles]
    public static let roleImportant = Setting<String?>("media_roles.important", default: nil, defaultText: "media_role",
        help: "media.role of important jobs' stream (e.g. alarm)")
    public static let roleMessage = Setting<String?>("media_roles.message", default: nil, defaultText: "media_role",
        help: "media.role of message jobs' stream")
    public static let roleText = Setting<String?>("media_roles.text", default: nil, defaultText: "media_role",
        help: "media.role of text jobs' stream")
    public static let roleNotification = Setting<String?>("media_roles.notification", default: nil, defaultText: "media_role",
        help: "media.role of notification jobs' stream")
    public static let roleProgress = Setting<String?>("media_roles.progress", default: nil, defaultText: "media_role",
        help: "media.role of progress jobs' stream")

    /// The `[media_roles]` row of each priority.
    public static let roleByPriority: [(JobPriority, Setting<String?>)] = [
        (.important, roleImportant), (.message, roleMessage), (.text, roleText),
        (.notification, roleNotification), (.progress, roleProgress),
    ]

    // [chimes]
    public static let chimeImportant = Setting<String?>("chimes.important", default: nil, defaultText: "none",
        help: "Chime before important jobs: ding, dong, or an absolute path to a WAV, FLAC or Ogg file")
    public static let chimeMessage = Setting<String?>("chimes.message", default: nil, defaultText: "none",
        help: "Chime before message jobs")
    public static let chimeText = Setting<String?>("chimes.text", default: nil, defaultText: "none", help: "Chime before text jobs")
    public static let chimeNotification = Setting<String?>("chimes.notification", default: nil, defaultText: "none",
        help: "Chime before notification jobs")
    public static let chimeProgress = Setting<String?>("chimes.progress", default: nil, defaultText: "none",
        help: "Chime before progress jobs")
    public static let chimeOffsetMs = Setting<Int>("chimes.offset_ms", default: 0, range: 0...2_000,
        help: "Silence between a chime and the speech, in milliseconds")

    /// The `[chimes]` row of each priority.
    public static let chimeByPriority: [(JobPriority, Setting<String?>)] = [
        (.important, chimeImportant), (.message, chimeMessage), (.text, chimeText),
        (.notification, chimeNotification), (.progress, chimeProgress),
    ]

    // [http]
    public static let httpEnabled = Setting<Bool>("http.enabled", default: false, help: "Serve the HTTP API (docs/http-api.yaml)")
    public static let httpAddress = Setting<String>("http.address", default: HTTPFrontDoorConfiguration().host,
        help: "Address to listen on; beyond loopback only with a token")
    public static let httpPort = Setting<Int>("http.port", default: HTTPFrontDoorConfiguration().port, range: 0...65_535,
        help: "TCP port (0: any free port, logged)")
    public static let httpTokenFile = Setting<String?>("http.token_file", default: nil, defaultText: "none",
        help: "Private file of bearer tokens, one a line")
    public static let httpTokenCredential = Setting<String?>("http.token_credential", default: nil,
        defaultText: "\(FrontDoorOptions.defaultTokenCredential) when present", help: "systemd credential holding the bearer tokens")
    public static let httpMaxBodyBytes = Setting<Int>("http.max_body_bytes", default: HTTPFrontDoorConfiguration().maxBodyBytes,
        range: 1_024...(16 * 1_048_576), help: "Largest request body; more is answered 413")
    public static let httpMaxConnections = Setting<Int>("http.max_connections", default: HTTPFrontDoorConfiguration().maxConnections,
        range: 1...65_536, help: "Connections served at once")
    public static let httpRateLimit = Setting<Int>("http.rate_limit", default: Int(HTTPFrontDoorConfiguration().requestsPerSecond),
        range: 1...100_000, help: "Requests per second per client; more are answered 429")
    public static let httpRateBurst = Setting<Int>("http.rate_burst", default: HTTPFrontDoorConfiguration().burst,
        range: 1...100_000, help: "Requests a client may send at once before rate_limit applies")
    public static let httpTLSCertificate = Setting<String?>("http.tls_certificate", default: nil, defaultText: "none: plain HTTP",
        help: "PEM certificate chain: serve HTTPS (with tls_key; reloaded on SIGHUP)")
    public static let httpTLSKey = Setting<String?>("http.tls_key", default: nil, defaultText: "none", help: "PEM private key of tls_certificate")

    // [mqtt]
    public static let mqttEnabled = Setting<Bool>("mqtt.enabled", default: false, help: "Connect to an MQTT broker (Home Assistant discovery)")
    public static let mqttHost = Setting<String>("mqtt.host", default: "localhost", help: "Broker host")
    public static let mqttPort = Setting<Int>("mqtt.port", default: 1_883, range: 1...65_535, help: "Broker port")
    public static let mqttNode = Setting<String?>("mqtt.node", default: nil, defaultText: "the host name",
        help: "This speaker's topic level and device id: no /, +, # or blanks")
    public static let mqttUsername = Setting<String?>("mqtt.username", default: nil, defaultText: "none", help: "Broker user name")
    public static let mqttPasswordFile = Setting<String?>("mqtt.password_file", default: nil, defaultText: "none",
        help: "File whose first line is the broker password")
    public static let mqttPasswordCredential = Setting<String?>("mqtt.password_credential", default: nil, defaultText: "none",
        help: "systemd credential holding the broker password")
    public static let mqttTLSCAFile = Setting<String?>("mqtt.tls_ca_file", default: nil, defaultText: "none: plain MQTT",
        help: "PEM file of the authorities trusted for the broker: connect with TLS")
    public static let mqttTopicPrefix = Setting<String>("mqtt.topic_prefix", default: "speakd", help: "First level of speakd's topics")
    public static let mqttDiscoveryPrefix = Setting<String>("mqtt.discovery_prefix", default: "homeassistant",
        help: "Home Assistant's discovery prefix")

    // [snapcast]
    public static let snapcastSource = Setting<String?>("snapcast.source", default: nil, defaultText: "none: no Snapcast output",
        help: "snapserver source to play speech on, in every room: tcp://HOST:PORT (a tcp source with mode=server) or pipe:///PATH")
    public static let snapcastSampleFormat = Setting<String>("snapcast.sample_format", default: "48000:16:2",
        help: "The source's sampleformat (RATE:16:CHANNELS); speakd resamples and maps channels to it")
    public static let snapcastBufferMs = Setting<Int>("snapcast.buffer_ms", default: 1_000, range: 0...30_000,
        help: "snapserver's buffer (its [stream] buffer, end to end): the rooms hear a sample this long after speakd sends it, and started/finished wait for it")
    public static let snapcastLeadMs = Setting<Int>("snapcast.lead_ms", default: 80, range: 10...2_000,
        help: "How far ahead of real time speakd sends (what a stop can still cut)")
    public static let snapcastLocal = Setting<Bool>("snapcast.local", default: true,
        help: "Play on the local device (audio.device) too; false: the rooms only")
    public static let snapcastControl = Setting<String?>("snapcast.control", default: nil, defaultText: "none: no group switching",
        help: "snapserver's JSON-RPC address (HOST:1705): switch groups to stream while speaking and back afterwards (setups without a meta stream)")
    public static let snapcastStream = Setting<String>("snapcast.stream", default: "announce",
        help: "The stream id groups are switched to (with control)")
    public static let snapcastGroups = Setting<String?>("snapcast.groups", default: nil, defaultText: "every group",
        help: "Groups to switch, comma-separated: group ids or names, or a member client's id, host id or name")

    private static var defaultMP3Quality: Int {
        if case .vbr(let quality) = MP3Settings().mode { return quality }
        return 4
    }

    /// Every row, in documentation order.
    public static let all: [SettingRow] = [
        socket.row, allowedUIDs.row, allowedGIDs.row, engine.row, logLevel.row, defaultUpstream.row, voice.row, model.row,
        maxConnections.row, maxQueuedJobs.row, maxLineBytes.row, maxTextCharacters.row, maxUnreadBytes.row,
        device.row, periodMs.row, bufferMs.row, normalize.row, loudnessTarget.row, truePeak.row, deviceSampleRate.row,
        deviceChannels.row, leadInMs.row, leadInAfterIdleMs.row, keepOpenMs.row, mediaRole.row,
        embeddedVoice.row, fallback.row,
        archiveDirectory.row, archiveFormat.row, archiveNamePattern.row, mp3Quality.row, mp3Bitrate.row, opusBitrate.row,
        flacCompression.row,
        cacheEnabled.row, cacheDirectory.row, cacheMaxSizeMB.row, cacheMaxTextLength.row, cacheMemoryMB.row,
        baseURL.row, apiKey.row, apiKeyFile.row, apiKeyEnvironment.row, apiKeyCredential.row, upstreamModel.row,
        upstreamVoice.row, sampleRate.row, channels.row, connectTimeout.row, firstByteTimeout.row, idleTimeout.row,
        readTimeout.row, caFile.row, keepWarm.row, speedRange.row, concurrentRequests.row, extraBody.row,
        roleImportant.row, roleMessage.row, roleText.row, roleNotification.row, roleProgress.row,
        chimeImportant.row, chimeMessage.row, chimeText.row, chimeNotification.row, chimeProgress.row, chimeOffsetMs.row,
        httpEnabled.row, httpAddress.row, httpPort.row, httpTokenFile.row, httpTokenCredential.row, httpMaxBodyBytes.row,
        httpMaxConnections.row, httpRateLimit.row, httpRateBurst.row, httpTLSCertificate.row, httpTLSKey.row,
        mqttEnabled.row, mqttHost.row, mqttPort.row, mqttNode.row, mqttUsername.row, mqttPasswordFile.row,
        mqttPasswordCredential.row, mqttTLSCAFile.row, mqttTopicPrefix.row, mqttDiscoveryPrefix.row,
        snapcastSource.row, snapcastSampleFormat.row, snapcastBufferMs.row, snapcastLeadMs.row, snapcastLocal.row,
        snapcastControl.row, snapcastStream.row, snapcastGroups.row,
    ]

    /// The table of docs/configuration.md, as Markdown.
    public static func markdown() -> String {
        func cell(_ text: String) -> String { text.replacingAll("|", with: "\\|") }
        var lines = ["| setting | type | default | range | flag | environment | description |", "|---|---|---|---|---|---|---|"]
        for row in all {
            let table = row.section.map { "[\($0)] " } ?? ""
            let description = row.deprecated.map { "Deprecated (\($0)). " + row.help } ?? row.help
            // The flags describe the default upstream; the OpenAI SDK's variables the upstream named openai.
            let upstream = row.section == "upstream.NAME"
            let flag = row.flag.map { "`\($0)`" + (upstream ? " (default upstream)" : "") } ?? ""
            let variable = row.environment.map { "`\($0)`" + (upstream ? " (upstream `openai`)" : "") } ?? ""
            let value = row.defaultText == row.defaultTOML ? "`\(row.defaultTOML)`" : cell(row.defaultText)
            lines.append("| `\(table)\(row.key)` | \(cell(row.type)) | \(value) | \(row.range) | \(flag) | "
                         + "\(variable) | \(cell(description)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
