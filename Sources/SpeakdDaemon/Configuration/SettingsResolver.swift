import SpeakdAudio
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
        func pick<T>(_ setting: Setting<T>, flag: T?, fileValue: T?) -> T {
            if let flag { sources[setting.name] = "flag"; return flag }
            if let fileValue { sources[setting.name] = "file"; return fileValue }
            sources[setting.name] = "default"
            return setting.defaultValue
        }
        /// Settings only a file can change.
        func fromFile<T>(_ setting: Setting<T>, _ fileValue: T?) -> T { pick(setting, flag: nil, fileValue: fileValue) }
        let socket: String
        if let flag = flags.socket {
            socket = flag; sources[SettingsTable.socket.name] = "flag"
        } else if let path = environment["SPEAKD_SOCKET"], !path.isEmpty {
            socket = path; sources[SettingsTable.socket.name] = "environment SPEAKD_SOCKET"
        } else if let path = file?.socket {
            socket = path; sources[SettingsTable.socket.name] = "file"
        } else {
            socket = SocketPath.resolve(explicit: nil, environment: environment); sources[SettingsTable.socket.name] = "default"
        }
        var options = DaemonOptions(socketPath: socket)
        let engine = pick(SettingsTable.engine, flag: flags.engine?.rawValue, fileValue: file?.engine?.rawValue)
        options.engine = EngineChoice(rawValue: engine) ?? .auto
        options.voice = pick(SettingsTable.voice, flag: flags.voice, fileValue: file?.voice)
        options.model = pick(SettingsTable.model, flag: flags.model, fileValue: file?.model)
        options.embeddedVoice = pick(SettingsTable.embeddedVoice, flag: flags.embeddedVoice, fileValue: file?.embeddedVoice)
        let fallback = pick(SettingsTable.fallback, flag: flags.fallback, fileValue: file?.fallback)
        options.fallbackPriorities = try Self.priorities(fallback)
        if file?.allowedUIDs != nil || file?.allowedGIDs != nil {
            sources[SettingsTable.allowedUIDs.name] = "file"; sources[SettingsTable.allowedGIDs.name] = "file"
            options.accessList = PeerAccessList(uids: Set((file?.allowedUIDs ?? []).map(UInt32.init)),
                                                gids: Set((file?.allowedGIDs ?? []).map(UInt32.init)))
        }
        options.maxConnections = fromFile(SettingsTable.maxConnections, file?.maxConnections)
        options.maxQueuedJobs = fromFile(SettingsTable.maxQueuedJobs, file?.maxQueuedJobs)
        options.maxLineBytes = fromFile(SettingsTable.maxLineBytes, file?.maxLineBytes)
        options.maxTextCharacters = fromFile(SettingsTable.maxTextCharacters, file?.maxTextCharacters)
        options.maxUnreadBytes = fromFile(SettingsTable.maxUnreadBytes, file?.maxUnreadBytes)
        options.device = pick(SettingsTable.device, flag: flags.device, fileValue: file?.device)
        let period = pick(SettingsTable.periodMs, flag: flags.periodMilliseconds, fileValue: file?.periodMilliseconds)
        let buffer = pick(SettingsTable.bufferMs, flag: flags.bufferMilliseconds, fileValue: file?.bufferMilliseconds)
        guard buffer >= 2 * period else {
            throw StartupError("buffer_ms (\(buffer)) must be at least twice period_ms (\(period))")
        }
        options.periodMilliseconds = period
        options.bufferMilliseconds = buffer
        // SPEAKD_NORMALIZE=false|true (the environment over the file): e.g. a test harness checking sample-exact
        // transport, or a unit started where the level must stay as synthesized.
        let normalizeVariable = environment[SettingsTable.normalize.environment ?? ""].flatMap { ["true": true, "false": false][$0] }
        let normalize: Bool
        if let normalizeVariable {
            normalize = normalizeVariable
            sources[SettingsTable.normalize.name] = "environment \(SettingsTable.normalize.environment ?? "")"
        } else {
            normalize = fromFile(SettingsTable.normalize, file?.normalize)
        }
        if normalize {
            options.loudness = LoudnessTarget(integrated: Double(fromFile(SettingsTable.loudnessTarget, file?.loudnessTarget)),
                                              truePeak: Double(fromFile(SettingsTable.truePeak, file?.truePeak)))
        } else {
            options.loudness = nil
        }
        options.leadIn = LeadIn(milliseconds: fromFile(SettingsTable.leadInMs, file?.leadInMilliseconds),
                                afterIdleMilliseconds: fromFile(SettingsTable.leadInAfterIdleMs, file?.leadInAfterIdleMilliseconds))
        options.keepOpenMilliseconds = fromFile(SettingsTable.keepOpenMs, file?.keepOpenMilliseconds)
        options.mediaRole = fromFile(SettingsTable.mediaRole, file?.mediaRole)
        guard options.mediaRole.isEmpty || StreamRole.isValid(options.mediaRole) else {
            throw StartupError("[audio] media_role \"\(options.mediaRole)\" must be one word (letters, digits, - _ .)")
        }
        for (priority, setting) in SettingsTable.roleByPriority {
            guard let role = file?.mediaRoles[priority] else { continue }
            guard role.isEmpty || StreamRole.isValid(role) else {
                throw StartupError("[media_roles] \(setting.key) \"\(role)\" must be one word (letters, digits, - _ .)")
            }
            options.mediaRoles[priority] = role
            sources[setting.name] = "file"
        }
        options.chimes = try chimeOptions(file: file, sources: &sources)
        if file?.deviceSampleRate != nil || file?.deviceChannels != nil {
            guard let rate = file?.deviceSampleRate, let channels = file?.deviceChannels else {
                throw StartupError("[audio] sample_rate and channels fix the device's format together: set both or neither")
            }
            options.deviceFormat = PCMFormat(sampleRate: rate, channels: channels)
            sources[SettingsTable.deviceSampleRate.name] = "file"
            sources[SettingsTable.deviceChannels.name] = "file"
        }
        let logLevel = pick(SettingsTable.logLevel, flag: flags.logLevel, fileValue: file?.logLevel)

        // Upstreams: the file's sections, then the implicit `openai` one from the SDK's variables.
        let sections = file?.upstreams ?? []
        let defaultName = flags.upstream ?? file?.defaultUpstream ?? sections.first?.name ?? "openai"
        sources[SettingsTable.defaultUpstream.name] = flags.upstream != nil ? "flag" : file?.defaultUpstream != nil ? "file" : "first upstream"
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
                sources[SettingsTable.baseURL.name(upstream: "openai")] = "environment OPENAI_BASE_URL"
            }
            if let environmentKey {
                upstreams[index].configuration.apiKey = environmentKey
                sources[SettingsTable.apiKey.name(upstream: "openai")] = "environment OPENAI_API_KEY"
            }
        }
        if let index = upstreams.firstIndex(where: { $0.name == defaultName }) {
            if let base = flags.apiBase {
                upstreams[index].configuration.baseURL = base
                sources[SettingsTable.baseURL.name(upstream: defaultName)] = "flag"
            }
            if let path = flags.apiKeyFile {
                upstreams[index].configuration.apiKey = try readKeyFile(path)
                sources[SettingsTable.apiKey.name(upstream: defaultName)] = "flag --api-key-file"
            }
            if let name = flags.apiKeyCredential {
                upstreams[index].configuration.apiKey = try readCredential(name, environment: environment)
                sources[SettingsTable.apiKey.name(upstream: defaultName)] = "flag --api-key-credential"
            }
            if let rate = flags.sampleRate {
                upstreams[index].configuration.sampleRateOverride = rate
                sources[SettingsTable.sampleRate.name(upstream: defaultName)] = "flag"
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
        options.snapcast = try SnapcastOptions.resolve(file?.snapcast, sources: &sources)
        return ResolvedSettings(options: options, logLevel: logLevel, configPath: file?.path, sources: sources)
    }

    private static func upstream(from section: ConfigurationFile.UpstreamSection, environment: [String: String],
                                 sources: inout [String: String]) throws -> NamedUpstream {
        var configuration = UpstreamConfiguration()
        if let base = section.baseURL { configuration.baseURL = base; sources[SettingsTable.baseURL.name(upstream: section.name)] = "file" }
        if let key = section.apiKey {
            configuration.apiKey = key
            sources[SettingsTable.apiKey.name(upstream: section.name)] = "file (inline)"
        } else if let path = section.apiKeyFile {
            configuration.apiKey = try readKeyFile(path)
            sources[SettingsTable.apiKey.name(upstream: section.name)] = "file api_key_file \(path)"
        } else if let variable = section.apiKeyEnvironment {
            guard let key = environment[variable], !key.isEmpty else {
                throw StartupError("upstream \(section.name): api_key_env names \(variable), which is not set")
            }
            configuration.apiKey = key
            sources[SettingsTable.apiKey.name(upstream: section.name)] = "environment \(variable)"
        } else if let name = section.apiKeyCredential {
            configuration.apiKey = try readCredential(name, environment: environment)
            sources[SettingsTable.apiKey.name(upstream: section.name)] = "credential \(name)"
        }
        configuration.sampleRateOverride = section.sampleRate
        configuration.channelsOverride = section.channels
        if let seconds = section.connectTimeoutSeconds {
            configuration.connectTimeoutSeconds = Int64(seconds); sources[SettingsTable.connectTimeout.name(upstream: section.name)] = "file"
        }
        if let seconds = section.firstByteTimeoutSeconds {
            configuration.firstByteTimeoutSeconds = Int64(seconds); sources[SettingsTable.firstByteTimeout.name(upstream: section.name)] = "file"
        }
        if let seconds = section.idleTimeoutSeconds {
            configuration.idleTimeoutSeconds = Int64(seconds); sources[SettingsTable.idleTimeout.name(upstream: section.name)] = "file"
        }
        if let caFile = section.caFile {
            guard access(caFile, R_OK) == 0 else {
                throw StartupError("upstream \(section.name): ca_file \(caFile) cannot be read: \(String(cString: strerror(errno)))")
            }
            configuration.caFile = caFile; sources[SettingsTable.caFile.name(upstream: section.name)] = "file"
        }
        if let seconds = section.keepWarmSeconds {
            configuration.keepWarmSeconds = Int64(seconds); sources[SettingsTable.keepWarm.name(upstream: section.name)] = "file"
        }
        if let range = section.speedRange {
            configuration.speedRange = range; sources[SettingsTable.speedRange.name(upstream: section.name)] = "file"
        }
        if let count = section.concurrentRequests {
            configuration.concurrentRequests = count; sources[SettingsTable.concurrentRequests.name(upstream: section.name)] = "file"
        }
        configuration.extraBody = section.extraBody
        return NamedUpstream(name: section.name, configuration: configuration, model: section.model, voice: section.voice)
    }
}

private extension Substring {
    func trimmingCharacters(in characters: String) -> String {
        String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
