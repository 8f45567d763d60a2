import SpeakdCore
import SpeakdEncoding
import SpeakdProtocol
import SpeakdSynthesis
#if canImport(Glibc)
import Glibc
#endif

/// Settings given on the command line; nil means "not given", so the file or a default may speak.
///
/// Threading: a value type; Sendable.
public struct CommandLineSettings: Sendable, Equatable {
    public var config: String?
    public var socket: String?
    public var apiBase: String?
    public var apiKeyFile: String?
    public var apiKeyCredential: String?
    public var upstream: String?
    public var engine: EngineChoice?
    public var model: String?
    public var voice: String?
    public var embeddedVoice: String?
    /// Priorities that fall back to the embedded engine: "important,message", "all" or "none".
    public var fallback: String?
    public var sampleRate: Int?
    public var device: String?
    public var periodMilliseconds: Int?
    public var bufferMilliseconds: Int?
    public var logLevel: String?
    public var archiveDirectory: String?
    public var archiveFormat: ArchiveFormat?
    public var archiveNamePattern: String?
    public var cacheDirectory: String?
    /// `--no-cache`: true turns the phrase cache off.
    public var noCache = false

    public init() {}
}

/// The effective settings and where each came from.
///
/// Threading: a value type; Sendable.
public struct ResolvedSettings: Sendable {
    public var options: DaemonOptions
    public var logLevel: String
    public var configPath: String?
    /// Setting name → "flag", "environment OPENAI_API_KEY", "file line 12", "default"…
    public var sources: [String: String] = [:]
}

/// Merges command line, environment and configuration file: **flag > environment > file > default**.
///
/// The OpenAI SDK's variables (`OPENAI_BASE_URL`, `OPENAI_API_KEY`) describe the upstream named `openai`, as they
/// would for the SDK; they never leak to another upstream. `--api-base`, `--api-key-file`, `--api-key-credential`
/// and `--sample-rate` describe the default upstream (the one `--upstream` or `default_upstream` names).
///
/// Threading: stateless.
public enum SettingsResolver {
    /// "important,message" → those priorities; "all"; "none".
    static func priorities(_ text: String) throws(StartupError) -> Set<JobPriority> {
        switch text.lowercased() {
        case "all": return Set(JobPriority.allCases)
        case "none", "": return []
        default:
            var result: Set<JobPriority> = []
            for name in text.split(separator: ",") {
                let trimmed = name.trimmingCharacters(in: " ")
                guard let priority = JobPriority(rawValue: trimmed) else {
                    throw StartupError("fallback: \"\(trimmed)\" is not a priority (important, message, text, notification, progress, or all / none)")
                }
                result.insert(priority)
            }
            return result
        }
    }

    /// Where a configuration file is looked for when `--config` is not given, in order.
    public static func searchPath(environment: [String: String]) -> [String] {
        var paths: [String] = []
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            paths.append(xdg + "/speakd/config.toml")
        } else if let home = environment["HOME"], !home.isEmpty {
            paths.append(home + "/.config/speakd/config.toml")
        }
        paths.append("/etc/speakd/config.toml")
        return paths
    }

    /// Finds and parses the configuration file: `--config` (which must exist), else the first of `searchPath`.
    public static func loadFile(flags: CommandLineSettings, environment: [String: String]) throws -> ConfigurationFile? {
        if let explicit = flags.config {
            guard let text = try readTextFile(explicit) else {
                throw StartupError("configuration file \(explicit) does not exist")
            }
            return try ConfigurationFile(path: explicit, text: text)
        }
        for path in searchPath(environment: environment) {
            if let text = try readTextFile(path) { return try ConfigurationFile(path: path, text: text) }
        }
        return nil
    }

    public static func resolve(flags: CommandLineSettings, environment: [String: String],
                               file: ConfigurationFile?) throws -> ResolvedSettings {
        var sources: [String: String] = [:]
        func pick<T>(_ name: String, flag: T?, fileValue: T?, fileKey: String? = nil, default value: T) -> T {
            if let flag { sources[name] = "flag"; return flag }
            if let fileValue { sources[name] = "file"; return fileValue }
            sources[name] = "default"
            return value
        }
        let socket: String
        if let flag = flags.socket {
            socket = flag; sources["socket"] = "flag"
        } else if let path = environment["SPEAKD_SOCKET"], !path.isEmpty {
            socket = path; sources["socket"] = "environment SPEAKD_SOCKET"
        } else if let path = file?.socket {
            socket = path; sources["socket"] = "file"
        } else {
            socket = SocketPath.resolve(explicit: nil, environment: environment); sources["socket"] = "default"
        }
        var options = DaemonOptions(socketPath: socket)
        options.engine = pick("engine", flag: flags.engine, fileValue: file?.engine, default: .auto)
        options.voice = pick("voice", flag: flags.voice, fileValue: file?.voice, default: options.voice)
        options.model = pick("model", flag: flags.model, fileValue: file?.model, default: options.model)
        options.embeddedVoice = pick("embedded_voice", flag: flags.embeddedVoice, fileValue: file?.embeddedVoice, default: options.embeddedVoice)
        let fallback = pick("fallback", flag: flags.fallback, fileValue: file?.fallback, default: "important,message")
        options.fallbackPriorities = try Self.priorities(fallback)
        if file?.allowedUIDs != nil || file?.allowedGIDs != nil {
            options.accessList = PeerAccessList(uids: Set((file?.allowedUIDs ?? []).map(UInt32.init)),
                                                gids: Set((file?.allowedGIDs ?? []).map(UInt32.init)))
        }
        options.maxConnections = file?.maxConnections ?? options.maxConnections
        options.maxQueuedJobs = file?.maxQueuedJobs ?? options.maxQueuedJobs
        options.maxLineBytes = file?.maxLineBytes ?? options.maxLineBytes
        options.maxTextCharacters = file?.maxTextCharacters ?? options.maxTextCharacters
        options.maxUnreadBytes = file?.maxUnreadBytes ?? options.maxUnreadBytes
        options.device = pick("device", flag: flags.device, fileValue: file?.device, default: options.device)
        let period = pick("period_ms", flag: flags.periodMilliseconds, fileValue: file?.periodMilliseconds, default: 10)
        let buffer = pick("buffer_ms", flag: flags.bufferMilliseconds, fileValue: file?.bufferMilliseconds, default: 80)
        guard buffer >= 2 * period else {
            throw StartupError("buffer_ms (\(buffer)) must be at least twice period_ms (\(period))")
        }
        options.periodMicroseconds = UInt32(period * 1000)
        options.bufferMicroseconds = UInt32(buffer * 1000)
        // SPEAKD_NORMALIZE=false|true (the environment over the file): e.g. a test harness checking sample-exact
        // transport, or a unit started where the level must stay as synthesized.
        let normalize = environment["SPEAKD_NORMALIZE"].flatMap { ["true": true, "false": false][$0] } ?? file?.normalize
        sources["normalize"] = environment["SPEAKD_NORMALIZE"] != nil ? "environment SPEAKD_NORMALIZE" : file?.normalize != nil ? "file" : "default"
        if normalize == false {
            options.loudness = nil
        } else {
            let defaults = LoudnessTarget()
            options.loudness = LoudnessTarget(integrated: file?.loudnessTarget.map(Double.init) ?? defaults.integrated,
                                              truePeak: file?.truePeak.map(Double.init) ?? defaults.truePeak)
        }
        if file?.deviceSampleRate != nil || file?.deviceChannels != nil {
            guard let rate = file?.deviceSampleRate, let channels = file?.deviceChannels else {
                throw StartupError("[audio] sample_rate and channels fix the device's format together: set both or neither")
            }
            options.deviceFormat = PCMFormat(sampleRate: rate, channels: channels)
        }
        let logLevel = pick("log_level", flag: flags.logLevel, fileValue: file?.logLevel, default: "info")

        // Upstreams: the file's sections, then the implicit `openai` one from the SDK's variables.
        let sections = file?.upstreams ?? []
        let defaultName = flags.upstream ?? file?.defaultUpstream ?? sections.first?.name ?? "openai"
        sources["default_upstream"] = flags.upstream != nil ? "flag" : file?.defaultUpstream != nil ? "file" : "first upstream"
        if let name = flags.upstream, !sections.contains(where: { $0.name == name }), name != "openai" {
            throw StartupError("--upstream \(name): no [upstream.\(name)] section in the configuration file")
        }
        var upstreams: [NamedUpstream] = []
        for section in sections {
            upstreams.append(try upstream(from: section, environment: environment, sources: &sources))
        }
        let environmentBase = environment["OPENAI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let environmentKey = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let flagsDescribeOpenAI = defaultName == "openai" && (flags.apiBase != nil || flags.apiKeyFile != nil || flags.apiKeyCredential != nil)
        if !upstreams.contains(where: { $0.name == "openai" }), environmentBase != nil || environmentKey != nil || flagsDescribeOpenAI {
            upstreams.append(NamedUpstream(name: "openai", configuration: UpstreamConfiguration()))
            sources["upstream.openai"] = "environment"
        }
        if let index = upstreams.firstIndex(where: { $0.name == "openai" }) {
            if let environmentBase {
                upstreams[index].configuration.baseURL = environmentBase
                sources["upstream.openai.base_url"] = "environment OPENAI_BASE_URL"
            }
            if let environmentKey {
                upstreams[index].configuration.apiKey = environmentKey
                sources["upstream.openai.api_key"] = "environment OPENAI_API_KEY"
            }
        }
        if let index = upstreams.firstIndex(where: { $0.name == defaultName }) {
            let prefix = "upstream.\(defaultName)"
            if let base = flags.apiBase {
                upstreams[index].configuration.baseURL = base
                sources[prefix + ".base_url"] = "flag"
            }
            if let path = flags.apiKeyFile {
                upstreams[index].configuration.apiKey = try readKeyFile(path)
                sources[prefix + ".api_key"] = "flag --api-key-file"
            }
            if let name = flags.apiKeyCredential {
                upstreams[index].configuration.apiKey = try readCredential(name, environment: environment)
                sources[prefix + ".api_key"] = "flag --api-key-credential"
            }
            if let rate = flags.sampleRate {
                upstreams[index].configuration.sampleRateOverride = rate
                sources[prefix + ".sample_rate"] = "flag"
            }
            options.defaultUpstream = defaultName
        }
        for upstream in upstreams {
            let url = upstream.configuration.baseURL
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw StartupError("upstream \(upstream.name): base URL \"\(url)\" must start with http:// or https://")
            }
        }
        options.upstreams = upstreams
        options.archive = try archive(flags: flags, environment: environment, file: file?.archive, sources: &sources)
        options.cache = cache(flags: flags, environment: environment, file: file?.cache, sources: &sources)
        options.frontDoors = try FrontDoorOptions.resolve(http: file?.http, mqtt: file?.mqtt, environment: environment,
                                                          sources: &sources)
        return ResolvedSettings(options: options, logLevel: logLevel, configPath: file?.path, sources: sources)
    }

    /// `[cache]` with `--cache-dir` / `SPEAKD_CACHE_DIR` and `--no-cache`.
    private static func cache(flags: CommandLineSettings, environment: [String: String],
                              file: ConfigurationFile.CacheSection?, sources: inout [String: String]) -> CacheOptions {
        var cache = CacheOptions()
        if flags.noCache {
            cache.enabled = false; sources["cache.enabled"] = "flag --no-cache"
        } else if let enabled = file?.enabled {
            cache.enabled = enabled; sources["cache.enabled"] = "file"
        }
        if let directory = flags.cacheDirectory {
            cache.directory = directory; sources["cache.directory"] = "flag"
        } else if let directory = environment["SPEAKD_CACHE_DIR"], !directory.isEmpty {
            cache.directory = directory; sources["cache.directory"] = "environment SPEAKD_CACHE_DIR"
        } else if let directory = file?.directory {
            cache.directory = directory; sources["cache.directory"] = "file"
        } else {
            cache.directory = CacheOptions.defaultDirectory(environment: environment)
            sources["cache.directory"] = environment["CACHE_DIRECTORY"] != nil ? "environment CACHE_DIRECTORY (systemd)" : "default"
        }
        if let size = file?.maxSizeMegabytes { cache.maximumMegabytes = size; sources["cache.max_size_mb"] = "file" }
        if let length = file?.maxTextLength { cache.maximumTextCharacters = length; sources["cache.max_text_length"] = "file" }
        if let memory = file?.memoryMegabytes { cache.memoryMegabytes = memory; sources["cache.memory_mb"] = "file" }
        return cache
    }

    /// `[archive]` with its flags and variables (`SPEAKD_ARCHIVE_DIR`, `SPEAKD_ARCHIVE_FORMAT`); quality settings
    /// come from the file only.
    private static func archive(flags: CommandLineSettings, environment: [String: String],
                                file: ConfigurationFile.ArchiveSection?, sources: inout [String: String]) throws -> ArchiveOptions {
        var archive = ArchiveOptions()
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let directory = flags.archiveDirectory {
            archive.directory = directory; sources["archive.directory"] = "flag"
        } else if let directory = variable("SPEAKD_ARCHIVE_DIR") {
            archive.directory = directory; sources["archive.directory"] = "environment SPEAKD_ARCHIVE_DIR"
        } else if let directory = file?.directory {
            archive.directory = directory; sources["archive.directory"] = "file"
        }
        if let format = flags.archiveFormat {
            archive.format = format; sources["archive.format"] = "flag"
        } else if let name = variable("SPEAKD_ARCHIVE_FORMAT") {
            guard let format = ArchiveFormat(name: name) else {
                throw StartupError("SPEAKD_ARCHIVE_FORMAT must be one of mp3, opus, flac, wav, not \"\(name)\"")
            }
            archive.format = format; sources["archive.format"] = "environment SPEAKD_ARCHIVE_FORMAT"
        } else if let format = file?.format {
            archive.format = format; sources["archive.format"] = "file"
        }
        if let pattern = flags.archiveNamePattern {
            guard !pattern.isEmpty, !pattern.contains("/") else { throw StartupError("--archive-name must be a non-empty file name (no /)") }
            archive.namePattern = pattern; sources["archive.name_pattern"] = "flag"
        } else if let pattern = file?.namePattern {
            archive.namePattern = pattern; sources["archive.name_pattern"] = "file"
        }
        if let quality = file?.mp3Quality { archive.settings.mp3.mode = .vbr(quality: quality); sources["archive.mp3"] = "file" }
        if let kbps = file?.mp3Bitrate { archive.settings.mp3.mode = .cbr(kbps: kbps); sources["archive.mp3"] = "file" }
        if let bitrate = file?.opusBitrate { archive.settings.opus.bitrate = bitrate; sources["archive.opus_bitrate"] = "file" }
        if let level = file?.flacCompression { archive.settings.flac.compressionLevel = level; sources["archive.flac_compression"] = "file" }
        if let directory = archive.directory {
            var info = stat()
            guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw StartupError("archive directory \(directory) does not exist or is not a directory")
            }
        }
        return archive
    }

    private static func upstream(from section: ConfigurationFile.UpstreamSection, environment: [String: String],
                                 sources: inout [String: String]) throws -> NamedUpstream {
        var configuration = UpstreamConfiguration()
        let prefix = "upstream.\(section.name)"
        if let base = section.baseURL { configuration.baseURL = base; sources[prefix + ".base_url"] = "file" }
        if let key = section.apiKey {
            configuration.apiKey = key
            sources[prefix + ".api_key"] = "file (inline)"
        } else if let path = section.apiKeyFile {
            configuration.apiKey = try readKeyFile(path)
            sources[prefix + ".api_key"] = "file api_key_file \(path)"
        } else if let variable = section.apiKeyEnvironment {
            guard let key = environment[variable], !key.isEmpty else {
                throw StartupError("upstream \(section.name): api_key_env names \(variable), which is not set")
            }
            configuration.apiKey = key
            sources[prefix + ".api_key"] = "environment \(variable)"
        } else if let name = section.apiKeyCredential {
            configuration.apiKey = try readCredential(name, environment: environment)
            sources[prefix + ".api_key"] = "credential \(name)"
        }
        configuration.sampleRateOverride = section.sampleRate
        configuration.channelsOverride = section.channels
        if let seconds = section.connectTimeoutSeconds {
            configuration.connectTimeoutSeconds = Int64(seconds); sources[prefix + ".connect_timeout"] = "file"
        }
        if let seconds = section.firstByteTimeoutSeconds {
            configuration.firstByteTimeoutSeconds = Int64(seconds); sources[prefix + ".first_byte_timeout"] = "file"
        }
        if let seconds = section.idleTimeoutSeconds {
            configuration.idleTimeoutSeconds = Int64(seconds); sources[prefix + ".idle_timeout"] = "file"
        }
        if let caFile = section.caFile {
            guard access(caFile, R_OK) == 0 else {
                throw StartupError("upstream \(section.name): ca_file \(caFile) cannot be read: \(String(cString: strerror(errno)))")
            }
            configuration.caFile = caFile; sources[prefix + ".ca_file"] = "file"
        }
        if let seconds = section.keepWarmSeconds {
            configuration.keepWarmSeconds = Int64(seconds); sources[prefix + ".keep_warm"] = "file"
        }
        if let range = section.speedRange {
            configuration.speedRange = range; sources[prefix + ".speed_range"] = "file"
        }
        if let count = section.concurrentRequests {
            configuration.concurrentRequests = count; sources[prefix + ".concurrent_requests"] = "file"
        }
        configuration.extraBody = section.extraBody
        return NamedUpstream(name: section.name, configuration: configuration, model: section.model, voice: section.voice)
    }

    /// A systemd credential (`LoadCredential=NAME:…`): `$CREDENTIALS_DIRECTORY/NAME`. Keeps the key out of unit
    /// files and the environment.
    static func readCredential(_ name: String, environment: [String: String]) throws -> String {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
            throw StartupError("API key credential \"\(name)\" requested, but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
        }
        guard !name.contains("/") else { throw StartupError("credential name \"\(name)\" must not contain /") }
        return try readKeyFile(directory + "/" + name)
    }

    static func readKeyFile(_ path: String) throws -> String {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw StartupError("the API key file \(path) is readable by group or others (mode \(mode)); make it private: chmod 600 \(path)")
        }
        guard let text = try readTextFile(path, limit: 65_536) else {
            throw StartupError("cannot read the API key file \(path): no such file")
        }
        let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let key = firstLine.filter { !$0.isWhitespace }
        guard !key.isEmpty else { throw StartupError("the API key file \(path) is empty") }
        return key
    }

    /// The file's text, or nil when it does not exist. Other failures (permissions, a directory) are errors.
    static func readTextFile(_ path: String, limit: Int = 1 << 20) throws -> String? {
        guard let handle = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw StartupError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count == 0 {
                if ferror(handle) != 0 { throw StartupError("cannot read \(path): \(String(cString: strerror(errno)))") }
                break
            }
            bytes += buffer[0..<count]
            if bytes.count > limit { throw StartupError("\(path) is larger than \(limit) bytes") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw StartupError("\(path) is not UTF-8 text") }
        return text
    }
}

private extension Substring {
    func trimmingCharacters(in characters: String) -> String {
        String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
