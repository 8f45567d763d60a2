import SpeakdEncoding
import SpeakdProtocol
import SpeakdSynthesis

/// What a configuration file says, typed and checked: every key known, every value of the right type and range,
/// errors naming the line. Nothing here is resolved against flags or the environment (see `SettingsResolver`).
///
/// Threading: a value type; Sendable.
public struct ConfigurationFile: Sendable, Equatable {
    public var path: String
    public var socket: String?
    /// Peers allowed on the socket, by uid or gid (`SO_PEERCRED`); nil: whoever the socket's mode lets in.
    public var allowedUIDs: [Int]?
    public var allowedGIDs: [Int]?
    public var engine: EngineChoice?
    public var logLevel: String?
    /// Name of the `[upstream.NAME]` that serves jobs naming none.
    public var defaultUpstream: String?
    public var voice: String?
    public var model: String?
    public var device: String?
    public var periodMilliseconds: Int?
    public var maxConnections: Int?
    public var maxQueuedJobs: Int?
    public var maxLineBytes: Int?
    public var maxTextCharacters: Int?
    public var maxUnreadBytes: Int?
    public var bufferMilliseconds: Int?
    /// `[audio] normalize`, `loudness_target` (LUFS), `true_peak` (dBTP).
    public var normalize: Bool?
    public var loudnessTarget: Int?
    public var truePeak: Int?
    /// `[audio] sample_rate` / `channels`: a fixed device format (both or neither).
    public var deviceSampleRate: Int?
    public var deviceChannels: Int?
    /// `[audio] lead_in_ms`, `lead_in_after_idle_ms`, `keep_open_ms`, `media_role`.
    public var leadInMilliseconds: Int?
    public var leadInAfterIdleMilliseconds: Int?
    public var keepOpenMilliseconds: Int?
    public var mediaRole: String?
    /// `[chimes]`: a chime per priority (its text as written) and `offset_ms`.
    public var chimes: [JobPriority: String] = [:]
    /// `[media_roles]`: a stream role per priority.
    public var mediaRoles: [JobPriority: String] = [:]
    public var chimeOffsetMilliseconds: Int?
    public var embeddedVoice: String?
    public var fallback: String?
    /// In file order.
    public var upstreams: [UpstreamSection] = []
    /// `[archive]`.
    public var archive: ArchiveSection?
    /// `[cache]`.
    public var cache: CacheSection?
    /// `[http]` and `[mqtt]` (FrontDoorSections.swift).
    public var http: HTTPSection?
    public var mqtt: MQTTSection?
    /// `[snapcast]` (SnapcastSection.swift).
    public var snapcast: SnapcastSection?

    public struct CacheSection: Sendable, Equatable {
        public var enabled: Bool?
        public var directory: String?
        public var maxSizeMegabytes: Int?
        public var maxTextLength: Int?
        public var memoryMegabytes: Int?
    }

    public struct ArchiveSection: Sendable, Equatable {
        public var directory: String?
        public var format: ArchiveFormat?
        public var namePattern: String?
        /// libmp3lame VBR quality 0…9, or CBR kbit/s (`mp3_bitrate`); at most one of them.
        public var mp3Quality: Int?
        public var mp3Bitrate: Int?
        public var opusBitrate: Int?
        public var flacCompression: Int?
    }

    public struct UpstreamSection: Sendable, Equatable {
        public var name: String
        public var line: Int
        public var baseURL: String?
        public var apiKey: String?
        public var apiKeyFile: String?
        public var apiKeyEnvironment: String?
        public var apiKeyCredential: String?
        public var model: String?
        public var voice: String?
        public var sampleRate: Int?
        public var channels: Int?
        public var connectTimeoutSeconds: Int?
        public var firstByteTimeoutSeconds: Int?
        public var idleTimeoutSeconds: Int?
        public var caFile: String?
        public var keepWarmSeconds: Int?
        /// `concurrent_requests = N`: the server serves N requests at once without slowing each.
        public var concurrentRequests: Int?
        /// `speed_range = [lo, hi]`: the speeds the server accepts ([1.0, 1.0]: it ignores speed).
        public var speedRange: ClosedRange<Double>?
        public var extraBody: [String: JSONValue] = [:]
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var path: String
        public var line: Int
        public var reason: String
        public var description: String { "\(path):\(line): \(reason)" }
    }

    public init(path: String, text: String) throws(Invalid) {
        self.path = path
        let document: TOMLDocument
        do {
            document = try TOMLDocument(parsing: text)
        } catch {
            throw Invalid(path: path, line: error.line, reason: error.reason)
        }
        var reader = TableReader(path: path, table: document.root, name: "the top level")
        socket = try reader.string(SettingsTable.socket)
        allowedUIDs = try reader.integers(SettingsTable.allowedUIDs)
        allowedGIDs = try reader.integers(SettingsTable.allowedGIDs)
        engine = try reader.string(SettingsTable.engine).flatMap(EngineChoice.init(rawValue:))
        logLevel = try reader.string(SettingsTable.logLevel)
        defaultUpstream = try reader.string(SettingsTable.defaultUpstream)
        voice = try reader.string(SettingsTable.voice)
        model = try reader.string(SettingsTable.model)
        if var limits = try reader.table("limits") {
            maxConnections = try limits.integer(SettingsTable.maxConnections)
            maxQueuedJobs = try limits.integer(SettingsTable.maxQueuedJobs)
            maxLineBytes = try limits.integer(SettingsTable.maxLineBytes)
            maxTextCharacters = try limits.integer(SettingsTable.maxTextCharacters)
            maxUnreadBytes = try limits.integer(SettingsTable.maxUnreadBytes)
            try limits.rejectUnknown()
        }
        if var audio = try reader.table("audio") {
            device = try audio.string(SettingsTable.device)
            periodMilliseconds = try audio.integer(SettingsTable.periodMs)
            bufferMilliseconds = try audio.integer(SettingsTable.bufferMs)
            normalize = try audio.bool(SettingsTable.normalize)
            loudnessTarget = try audio.integer(SettingsTable.loudnessTarget)
            truePeak = try audio.integer(SettingsTable.truePeak)
            deviceSampleRate = try audio.integer(SettingsTable.deviceSampleRate)
            deviceChannels = try audio.integer(SettingsTable.deviceChannels)
            leadInMilliseconds = try audio.integer(SettingsTable.leadInMs)
            leadInAfterIdleMilliseconds = try audio.integer(SettingsTable.leadInAfterIdleMs)
            keepOpenMilliseconds = try audio.integer(SettingsTable.keepOpenMs)
            mediaRole = try audio.string(SettingsTable.mediaRole)
            try audio.rejectUnknown()
        }
        if var table = try reader.table("media_roles") {
            mediaRoles = try table.strings(SettingsTable.roleByPriority)
            try table.rejectUnknown()
        }
        if var table = try reader.table("chimes") {
            chimes = try table.strings(SettingsTable.chimeByPriority)
            chimeOffsetMilliseconds = try table.integer(SettingsTable.chimeOffsetMs)
            try table.rejectUnknown()
        }
        if var table = try reader.table("archive") {
            var section = ArchiveSection()
            section.directory = try table.string(SettingsTable.archiveDirectory)
            if let name = try table.string(SettingsTable.archiveFormat.key) {
                guard let format = ArchiveFormat(name: name) else {
                    throw Invalid(path: path, line: table.lineOf(SettingsTable.archiveFormat), reason: "format must be one of mp3, opus, flac, wav, not \"\(name)\"")
                }
                section.format = format
            }
            section.namePattern = try table.string(SettingsTable.archiveNamePattern)
            if let pattern = section.namePattern, pattern.isEmpty || pattern.contains("/") {
                throw Invalid(path: path, line: table.lineOf(SettingsTable.archiveNamePattern), reason: "name_pattern must be a non-empty file name (no /)")
            }
            section.mp3Quality = try table.integer(SettingsTable.mp3Quality)
            section.mp3Bitrate = try table.integer(SettingsTable.mp3Bitrate)
            if section.mp3Quality != nil && section.mp3Bitrate != nil {
                throw Invalid(path: path, line: table.lineOf(SettingsTable.mp3Bitrate), reason: "[archive] names both mp3_quality (VBR) and mp3_bitrate (CBR); choose one")
            }
            section.opusBitrate = try table.integer(SettingsTable.opusBitrate)
            section.flacCompression = try table.integer(SettingsTable.flacCompression)
            try table.rejectUnknown()
            archive = section
        }
        if var table = try reader.table("cache") {
            var section = CacheSection()
            section.enabled = try table.bool(SettingsTable.cacheEnabled)
            section.directory = try table.string(SettingsTable.cacheDirectory)
            if let directory = section.directory, !directory.hasPrefix("/") {
                throw Invalid(path: path, line: table.lineOf(SettingsTable.cacheDirectory), reason: "[cache] directory must be an absolute path")
            }
            section.maxSizeMegabytes = try table.integer(SettingsTable.cacheMaxSizeMB)
            section.maxTextLength = try table.integer(SettingsTable.cacheMaxTextLength)
            section.memoryMegabytes = try table.integer(SettingsTable.cacheMemoryMB)
            try table.rejectUnknown()
            cache = section
        }
        if var embedded = try reader.table("embedded") {
            embeddedVoice = try embedded.string(SettingsTable.embeddedVoice)
            fallback = try embedded.string(SettingsTable.fallback)
            try embedded.rejectUnknown()
        }
        if var upstreamTables = try reader.table("upstream") {
            for name in upstreamTables.keysInLineOrder {
                guard var section = try upstreamTables.table(name) else { continue }
                var upstream = UpstreamSection(name: name, line: section.line)
                upstream.baseURL = try section.string(SettingsTable.baseURL)
                if let url = upstream.baseURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                    throw Invalid(path: path, line: section.lineOf(SettingsTable.baseURL), reason: "base_url must start with http:// or https://")
                }
                upstream.apiKey = try section.string(SettingsTable.apiKey)
                upstream.apiKeyFile = try section.string(SettingsTable.apiKeyFile)
                upstream.apiKeyEnvironment = try section.string(SettingsTable.apiKeyEnvironment)
                upstream.apiKeyCredential = try section.string(SettingsTable.apiKeyCredential)
                let keySources = [upstream.apiKey, upstream.apiKeyFile, upstream.apiKeyEnvironment, upstream.apiKeyCredential]
                if keySources.compactMap({ $0 }).count > 1 {
                    throw Invalid(path: path, line: section.line, reason: "[upstream.\(name)] names more than one of api_key, api_key_file, api_key_env, api_key_credential")
                }
                upstream.model = try section.string(SettingsTable.upstreamModel)
                upstream.voice = try section.string(SettingsTable.upstreamVoice)
                upstream.sampleRate = try section.integer(SettingsTable.sampleRate)
                upstream.channels = try section.integer(SettingsTable.channels)
                upstream.connectTimeoutSeconds = try section.integer(SettingsTable.connectTimeout)
                upstream.firstByteTimeoutSeconds = try section.integer(SettingsTable.firstByteTimeout)
                upstream.idleTimeoutSeconds = try section.integer(SettingsTable.idleTimeout)
                // Deprecated: both waits at once, unless named separately.
                if let seconds = try section.integer(SettingsTable.readTimeout) {
                    upstream.firstByteTimeoutSeconds = upstream.firstByteTimeoutSeconds ?? seconds
                    upstream.idleTimeoutSeconds = upstream.idleTimeoutSeconds ?? seconds
                }
                upstream.caFile = try section.string(SettingsTable.caFile)
                if let file = upstream.caFile, !file.hasPrefix("/") {
                    throw Invalid(path: path, line: section.lineOf(SettingsTable.caFile), reason: "ca_file must be an absolute path")
                }
                upstream.keepWarmSeconds = try section.integer(SettingsTable.keepWarm)
                upstream.speedRange = try section.speedRange(SettingsTable.speedRange)
                upstream.concurrentRequests = try section.integer(SettingsTable.concurrentRequests)
                if let extras = try section.table(SettingsTable.extraBody.key) {
                    upstream.extraBody = try extras.jsonObject()
                }
                try section.rejectUnknown()
                upstreams.append(upstream)
            }
        }
        (http, mqtt) = try Self.frontDoorSections(&reader)
        snapcast = try Self.snapcastSection(&reader)
        try reader.rejectUnknown()
        if let defaultUpstream, !upstreams.contains(where: { $0.name == defaultUpstream }) {
            throw Invalid(path: path, line: reader.lineOf(SettingsTable.defaultUpstream),
                          reason: "default_upstream \"\(defaultUpstream)\" has no [upstream.\(defaultUpstream)] section")
        }
    }
}
