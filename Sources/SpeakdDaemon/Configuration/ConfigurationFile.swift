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
        socket = try reader.string("socket")
        allowedUIDs = try reader.integers("allowed_uids", in: 0...Int(UInt32.max))
        allowedGIDs = try reader.integers("allowed_gids", in: 0...Int(UInt32.max))
        engine = try reader.enumeration("engine", EngineChoice.self)
        logLevel = try reader.oneOf("log_level", ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        defaultUpstream = try reader.string("default_upstream")
        voice = try reader.string("voice")
        model = try reader.string("model")
        if var limits = try reader.table("limits") {
            maxConnections = try limits.integer("max_connections", in: 1...65_536)
            maxQueuedJobs = try limits.integer("max_queued_jobs", in: 1...1_000_000)
            maxLineBytes = try limits.integer("max_line_bytes", in: 1_024...(256 * 1_048_576))
            maxTextCharacters = try limits.integer("max_text_characters", in: 1...10_000_000)
            maxUnreadBytes = try limits.integer("max_unread_bytes", in: 65_536...(1_024 * 1_048_576))
            try limits.rejectUnknown()
        }
        if var audio = try reader.table("audio") {
            device = try audio.string("device")
            periodMilliseconds = try audio.integer("period_ms", in: 1...500)
            bufferMilliseconds = try audio.integer("buffer_ms", in: 2...2000)
            normalize = try audio.bool("normalize")
            loudnessTarget = try audio.integer("loudness_target", in: -40...(-5))
            truePeak = try audio.integer("true_peak", in: -9...0)
            deviceSampleRate = try audio.integer("sample_rate", in: 8_000...192_000)
            deviceChannels = try audio.integer("channels", in: 1...2)
            try audio.rejectUnknown()
        }
        if var table = try reader.table("archive") {
            var section = ArchiveSection()
            section.directory = try table.string("directory")
            if let name = try table.string("format") {
                guard let format = ArchiveFormat(name: name) else {
                    throw Invalid(path: path, line: table.lineOf("format"), reason: "format must be one of mp3, opus, flac, wav, not \"\(name)\"")
                }
                section.format = format
            }
            section.namePattern = try table.string("name_pattern")
            if let pattern = section.namePattern, pattern.isEmpty || pattern.contains("/") {
                throw Invalid(path: path, line: table.lineOf("name_pattern"), reason: "name_pattern must be a non-empty file name (no /)")
            }
            section.mp3Quality = try table.integer("mp3_quality", in: MP3Settings.vbrQualities)
            section.mp3Bitrate = try table.integer("mp3_bitrate", in: 8...320)
            if section.mp3Quality != nil && section.mp3Bitrate != nil {
                throw Invalid(path: path, line: table.lineOf("mp3_bitrate"), reason: "[archive] names both mp3_quality (VBR) and mp3_bitrate (CBR); choose one")
            }
            section.opusBitrate = try table.integer("opus_bitrate", in: OpusSettings.bitrates)
            section.flacCompression = try table.integer("flac_compression", in: FLACSettings.compressionLevels)
            try table.rejectUnknown()
            archive = section
        }
        if var table = try reader.table("cache") {
            var section = CacheSection()
            section.enabled = try table.bool("enabled")
            section.directory = try table.string("directory")
            if let directory = section.directory, !directory.hasPrefix("/") {
                throw Invalid(path: path, line: table.lineOf("directory"), reason: "[cache] directory must be an absolute path")
            }
            section.maxSizeMegabytes = try table.integer("max_size_mb", in: 1...1_000_000)
            section.maxTextLength = try table.integer("max_text_length", in: 1...SpeechLimits.upstreamInputMaxCharacters)
            section.memoryMegabytes = try table.integer("memory_mb", in: 0...4096)
            try table.rejectUnknown()
            cache = section
        }
        if var embedded = try reader.table("embedded") {
            embeddedVoice = try embedded.string("voice")
            fallback = try embedded.string("fallback")
            try embedded.rejectUnknown()
        }
        if var upstreamTables = try reader.table("upstream") {
            for name in upstreamTables.keysInLineOrder {
                guard var section = try upstreamTables.table(name) else { continue }
                var upstream = UpstreamSection(name: name, line: section.line)
                upstream.baseURL = try section.string("base_url")
                if let url = upstream.baseURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                    throw Invalid(path: path, line: section.lineOf("base_url"), reason: "base_url must start with http:// or https://")
                }
                upstream.apiKey = try section.string("api_key")
                upstream.apiKeyFile = try section.string("api_key_file")
                upstream.apiKeyEnvironment = try section.string("api_key_env")
                upstream.apiKeyCredential = try section.string("api_key_credential")
                let keySources = [upstream.apiKey, upstream.apiKeyFile, upstream.apiKeyEnvironment, upstream.apiKeyCredential]
                if keySources.compactMap({ $0 }).count > 1 {
                    throw Invalid(path: path, line: section.line, reason: "[upstream.\(name)] names more than one of api_key, api_key_file, api_key_env, api_key_credential")
                }
                upstream.model = try section.string("model")
                upstream.voice = try section.string("voice")
                upstream.sampleRate = try section.integer("sample_rate", in: 4_000...192_000)
                upstream.channels = try section.integer("channels", in: 1...8)
                upstream.connectTimeoutSeconds = try section.integer("connect_timeout", in: 1...300)
                upstream.firstByteTimeoutSeconds = try section.integer("first_byte_timeout", in: 1...3600)
                upstream.idleTimeoutSeconds = try section.integer("idle_timeout", in: 1...3600)
                // The older single setting: both waits at once, unless named separately.
                if let seconds = try section.integer("read_timeout", in: 1...3600) {
                    upstream.firstByteTimeoutSeconds = upstream.firstByteTimeoutSeconds ?? seconds
                    upstream.idleTimeoutSeconds = upstream.idleTimeoutSeconds ?? seconds
                }
                upstream.caFile = try section.string("ca_file")
                if let file = upstream.caFile, !file.hasPrefix("/") {
                    throw Invalid(path: path, line: section.lineOf("ca_file"), reason: "ca_file must be an absolute path")
                }
                upstream.keepWarmSeconds = try section.integer("keep_warm", in: 0...3600)
                upstream.speedRange = try section.speedRange("speed_range")
                upstream.concurrentRequests = try section.integer("concurrent_requests", in: 1...8)
                if let extras = try section.table("extra_body") {
                    upstream.extraBody = try extras.jsonObject()
                }
                try section.rejectUnknown()
                upstreams.append(upstream)
            }
        }
        (http, mqtt) = try Self.frontDoorSections(&reader)
        try reader.rejectUnknown()
        if let defaultUpstream, !upstreams.contains(where: { $0.name == defaultUpstream }) {
            throw Invalid(path: path, line: reader.lineOf("default_upstream"),
                          reason: "default_upstream \"\(defaultUpstream)\" has no [upstream.\(defaultUpstream)] section")
        }
    }
}

/// Reads typed keys out of one table, remembering which were read so unknown ones (typos) are refused by line.
struct TableReader {
    let path: String
    let table: [String: TOMLDocument.Entry]
    let name: String
    let line: Int
    private var read: Set<String> = []

    init(path: String, table: [String: TOMLDocument.Entry], name: String, line: Int = 1) {
        self.path = path
        self.table = table
        self.name = name
        self.line = line
    }

    var keysInLineOrder: [String] { table.sorted { $0.value.line < $1.value.line }.map(\.key) }

    func lineOf(_ key: String) -> Int { table[key]?.line ?? line }

    private func invalid(_ key: String, _ reason: String) -> ConfigurationFile.Invalid {
        .init(path: path, line: lineOf(key), reason: reason)
    }

    mutating func string(_ key: String) throws(ConfigurationFile.Invalid) -> String? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .string(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be a string, not \(entry.value.typeName)") }
        return value
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationFile.Invalid) -> Int? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .integer(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be an integer, not \(entry.value.typeName)") }
        guard range.contains(value) else { throw invalid(key, "\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(value)") }
        return value
    }

    mutating func bool(_ key: String) throws(ConfigurationFile.Invalid) -> Bool? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .bool(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be true or false, not \(entry.value.typeName)") }
        return value
    }

    mutating func integers(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationFile.Invalid) -> [Int]? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .array(let values) = entry.value else { throw invalid(key, "\(key) in \(name) must be an array of integers, not \(entry.value.typeName)") }
        var result: [Int] = []
        for value in values {
            guard case .integer(let number) = value, range.contains(number) else {
                throw invalid(key, "\(key) must hold integers between \(range.lowerBound) and \(range.upperBound)")
            }
            result.append(number)
        }
        return result
    }

    /// `[lo, hi]`, numbers within the contract's 0.25–4.0 with lo ≤ hi.
    mutating func speedRange(_ key: String) throws(ConfigurationFile.Invalid) -> ClosedRange<Double>? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        let contract = UpstreamSpeed.contractRange
        let reason = "\(key) in \(name) must be [lowest, highest], two numbers between \(contract.lowerBound) and \(contract.upperBound) (e.g. [1.0, 2.0]; [1.0, 1.0] for a server that ignores speed)"
        guard case .array(let values) = entry.value, values.count == 2 else { throw invalid(key, reason) }
        var numbers: [Double] = []
        for value in values {
            switch value {
            case .integer(let number): numbers.append(Double(number))
            case .float(let number): numbers.append(number)
            default: throw invalid(key, reason)
            }
        }
        guard numbers[0] <= numbers[1], contract.contains(numbers[0]), contract.contains(numbers[1]) else { throw invalid(key, reason) }
        return numbers[0]...numbers[1]
    }

    mutating func oneOf(_ key: String, _ choices: [String]) throws(ConfigurationFile.Invalid) -> String? {
        guard let value = try string(key) else { return nil }
        guard choices.contains(value) else { throw invalid(key, "\(key) must be one of \(choices.joined(separator: ", ")), not \"\(value)\"") }
        return value
    }

    mutating func enumeration<Choice: RawRepresentable & CaseIterable>(_ key: String, _: Choice.Type) throws(ConfigurationFile.Invalid) -> Choice?
    where Choice.RawValue == String {
        guard let value = try oneOf(key, Choice.allCases.map(\.rawValue)) else { return nil }
        return Choice(rawValue: value)
    }

    mutating func table(_ key: String) throws(ConfigurationFile.Invalid) -> TableReader? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .table(let child) = entry.value else { throw invalid(key, "\(key) must be a table ([\(key)]), not \(entry.value.typeName)") }
        let childName = name == "the top level" ? "[\(key)]" : "[\(name.dropFirst().dropLast()).\(key)]"
        return TableReader(path: path, table: child, name: childName, line: entry.line)
    }

    func jsonObject() throws(ConfigurationFile.Invalid) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for (key, entry) in table { object[key] = try json(entry.value, key: key) }
        return object
    }

    private func json(_ value: TOMLDocument.Value, key: String) throws(ConfigurationFile.Invalid) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .integer(let number): return .number(Double(number))
        case .float(let number): return .number(number)
        case .bool(let flag): return .bool(flag)
        case .array(let items):
            var converted: [JSONValue] = []
            for item in items { converted.append(try json(item, key: key)) }
            return .array(converted)
        case .table(let child):
            return .object(try TableReader(path: path, table: child, name: key).jsonObject())
        }
    }

    func rejectUnknown() throws(ConfigurationFile.Invalid) {
        if let (key, entry) = table.filter({ !read.contains($0.key) }).min(by: { $0.value.line < $1.value.line }) {
            let known = read.sorted().joined(separator: ", ")
            throw ConfigurationFile.Invalid(path: path, line: entry.line, reason: "unknown key \"\(key)\" in \(name) (known: \(known))")
        }
    }
}
