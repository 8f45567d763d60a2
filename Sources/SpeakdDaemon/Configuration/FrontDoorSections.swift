import SpeakdHTTP
import SpeakdMQTT
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `[http]` and `[mqtt]` in speakd.toml: the front doors beside the Unix socket, both off unless `enabled = true`.
extension ConfigurationFile {
    public struct HTTPSection: Sendable, Equatable {
        public var enabled: Bool?
        public var address: String?
        public var port: Int?
        public var tokenFile: String?
        public var tokenCredential: String?
        public var maxBodyBytes: Int?
        public var maxConnections: Int?
        public var rateLimit: Int?
        public var rateBurst: Int?
        public var tlsCertificate: String?
        public var tlsKey: String?
    }

    public struct MQTTSection: Sendable, Equatable {
        public var enabled: Bool?
        public var host: String?
        public var port: Int?
        public var node: String?
        public var username: String?
        public var passwordFile: String?
        public var passwordCredential: String?
        public var tlsCAFile: String?
        public var topicPrefix: String?
        public var discoveryPrefix: String?
    }

    static func frontDoorSections(_ reader: inout TableReader) throws(Invalid) -> (HTTPSection?, MQTTSection?) {
        var http: HTTPSection?
        var mqtt: MQTTSection?
        if var table = try reader.table("http") {
            var section = HTTPSection()
            section.enabled = try table.bool(SettingsTable.httpEnabled)
            section.address = try table.string(SettingsTable.httpAddress)
            section.port = try table.integer(SettingsTable.httpPort)
            section.tokenFile = try table.string(SettingsTable.httpTokenFile)
            section.tokenCredential = try table.string(SettingsTable.httpTokenCredential)
            section.maxBodyBytes = try table.integer(SettingsTable.httpMaxBodyBytes)
            section.maxConnections = try table.integer(SettingsTable.httpMaxConnections)
            section.rateLimit = try table.integer(SettingsTable.httpRateLimit)
            section.rateBurst = try table.integer(SettingsTable.httpRateBurst)
            section.tlsCertificate = try table.string(SettingsTable.httpTLSCertificate)
            section.tlsKey = try table.string(SettingsTable.httpTLSKey)
            try table.rejectUnknown()
            if section.address?.isEmpty == true {
                throw Invalid(path: reader.path, line: table.lineOf("address"), reason: "[http] address must name an address to bind, such as \"127.0.0.1\" or \"0.0.0.0\"")
            }
            if section.tokenFile != nil && section.tokenCredential != nil {
                throw Invalid(path: reader.path, line: table.line, reason: "[http] names both token_file and token_credential; keep one")
            }
            if (section.tlsCertificate == nil) != (section.tlsKey == nil) {
                throw Invalid(path: reader.path, line: table.lineOf(section.tlsKey == nil ? "tls_certificate" : "tls_key"),
                              reason: "[http] needs both tls_certificate and tls_key, or neither")
            }
            if let rate = section.rateLimit, let burst = section.rateBurst, burst < rate {
                throw Invalid(path: reader.path, line: table.lineOf("rate_burst"),
                              reason: "[http] rate_burst (\(burst)) must be at least rate_limit (\(rate)): a client could never make a second's requests at once")
            }
            http = section
        }
        if var table = try reader.table("mqtt") {
            var section = MQTTSection()
            section.enabled = try table.bool(SettingsTable.mqttEnabled)
            section.host = try table.string(SettingsTable.mqttHost)
            section.port = try table.integer(SettingsTable.mqttPort)
            section.node = try table.string(SettingsTable.mqttNode)
            if let node = section.node, node.isEmpty || node.contains(where: { "/+#".contains($0) || $0.isWhitespace }) {
                throw Invalid(path: reader.path, line: table.lineOf("node"), reason: "[mqtt] node must be one topic level: no /, +, # or blanks")
            }
            section.username = try table.string(SettingsTable.mqttUsername)
            section.passwordFile = try table.string(SettingsTable.mqttPasswordFile)
            section.passwordCredential = try table.string(SettingsTable.mqttPasswordCredential)
            section.tlsCAFile = try table.string(SettingsTable.mqttTLSCAFile)
            section.topicPrefix = try table.string(SettingsTable.mqttTopicPrefix)
            section.discoveryPrefix = try table.string(SettingsTable.mqttDiscoveryPrefix)
            try table.rejectUnknown()
            if section.host?.isEmpty == true {
                throw Invalid(path: reader.path, line: table.lineOf("host"), reason: "[mqtt] host must name the broker")
            }
            for key in ["topic_prefix", "discovery_prefix"] {
                let value = key == "topic_prefix" ? section.topicPrefix : section.discoveryPrefix
                if let value, value.isEmpty || value.hasPrefix("/") || value.hasSuffix("/") || value.contains(where: { "+#".contains($0) || $0.isWhitespace }) {
                    throw Invalid(path: reader.path, line: table.lineOf(key), reason: "[mqtt] \(key) must be a topic without +, #, blanks or a leading or trailing /")
                }
            }
            if section.passwordFile != nil && section.passwordCredential != nil {
                throw Invalid(path: reader.path, line: table.line, reason: "[mqtt] names both password_file and password_credential; keep one")
            }
            if section.username == nil && (section.passwordFile != nil || section.passwordCredential != nil) {
                throw Invalid(path: reader.path, line: table.lineOf(section.passwordFile != nil ? "password_file" : "password_credential"),
                              reason: "[mqtt] a password needs a username")
            }
            mqtt = section
        }
        return (http, mqtt)
    }
}

/// What the front doors serve, resolved (tokens and passwords read from their files).
///
/// Threading: a value type; Sendable.
public struct FrontDoorOptions: Sendable, Equatable {
    /// nil: the HTTP API is off.
    public var http: HTTPFrontDoorConfiguration?
    /// nil: MQTT is off.
    public var mqtt: MQTTConfiguration?

    public init(http: HTTPFrontDoorConfiguration? = nil, mqtt: MQTTConfiguration? = nil) {
        self.http = http
        self.mqtt = mqtt
    }

    /// The systemd credential read for HTTP tokens when the file names none (`LoadCredential=speakd-http-token:…`).
    public static let defaultTokenCredential = "speakd-http-token"

    static func resolve(http section: ConfigurationFile.HTTPSection?, mqtt mqttSection: ConfigurationFile.MQTTSection?,
                        environment: [String: String], sources: inout [String: String]) throws -> FrontDoorOptions {
        var options = FrontDoorOptions()
        if let section { recordSources(section, prefix: "http", into: &sources) }
        if let mqttSection { recordSources(mqttSection, prefix: "mqtt", into: &sources) }
        if let section = section, section.enabled == true {
            var http = HTTPFrontDoorConfiguration()
            http.host = section.address ?? http.host
            http.port = section.port ?? http.port
            http.maxBodyBytes = section.maxBodyBytes ?? http.maxBodyBytes
            http.maxConnections = section.maxConnections ?? http.maxConnections
            http.requestsPerSecond = section.rateLimit.map(Double.init) ?? http.requestsPerSecond
            http.burst = section.rateBurst ?? max(http.burst, Int(http.requestsPerSecond))
            http.certificateFile = section.tlsCertificate
            http.keyFile = section.tlsKey
            if let file = section.tokenFile {
                http.tokens = try tokens(in: file)
                sources["http.tokens"] = "token_file \(file)"
            } else if let name = section.tokenCredential {
                guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                    throw StartupError("[http] token_credential \"\(name)\" requested, but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
                }
                http.tokens = try tokens(in: directory + "/" + name)
                sources["http.tokens"] = "systemd credential \(name)"
            } else if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty,
                      access(directory + "/" + defaultTokenCredential, R_OK) == 0 {
                http.tokens = try tokens(in: directory + "/" + defaultTokenCredential)
                sources["http.tokens"] = "systemd credential \(defaultTokenCredential)"
            }
            for (key, file) in [("tls_certificate", http.certificateFile), ("tls_key", http.keyFile)] {
                if let file, access(file, R_OK) != 0 {
                    throw StartupError("[http] \(key) \(file) cannot be read: \(String(cString: strerror(errno)))")
                }
            }
            if let refusal = http.refusal { throw StartupError(refusal) }
            options.http = http
        }
        if let section = mqttSection, section.enabled == true {
            var mqtt = MQTTConfiguration(node: section.node ?? MQTTConfiguration.defaultNode())
            mqtt.host = section.host ?? mqtt.host
            mqtt.port = section.port ?? mqtt.port
            mqtt.username = section.username
            if let file = section.passwordFile {
                mqtt.password = try SettingsResolver.readKeyFile(file)
            } else if let name = section.passwordCredential {
                mqtt.password = try SettingsResolver.readCredential(name, environment: environment)
            }
            mqtt.caFile = section.tlsCAFile
            if let file = mqtt.caFile, access(file, R_OK) != 0 {
                throw StartupError("[mqtt] tls_ca_file \(file) cannot be read: \(String(cString: strerror(errno)))")
            }
            mqtt.topicPrefix = section.topicPrefix ?? mqtt.topicPrefix
            mqtt.discoveryPrefix = section.discoveryPrefix ?? mqtt.discoveryPrefix
            options.mqtt = mqtt
        }
        return options
    }

    /// "file" for each key the section sets (`http.port`…), for `--check-config`.
    private static func recordSources(_ section: ConfigurationFile.HTTPSection, prefix: String, into sources: inout [String: String]) {
        let given: [(String, Any?)] = [
            ("enabled", section.enabled), ("address", section.address), ("port", section.port),
            ("max_body_bytes", section.maxBodyBytes), ("max_connections", section.maxConnections),
            ("rate_limit", section.rateLimit), ("rate_burst", section.rateBurst),
            ("tls_certificate", section.tlsCertificate), ("tls_key", section.tlsKey),
        ]
        for (key, value) in given where value != nil { sources[prefix + "." + key] = "file" }
    }

    private static func recordSources(_ section: ConfigurationFile.MQTTSection, prefix: String, into sources: inout [String: String]) {
        let given: [(String, Any?)] = [
            ("enabled", section.enabled), ("host", section.host), ("port", section.port), ("node", section.node),
            ("username", section.username), ("tls_ca_file", section.tlsCAFile), ("topic_prefix", section.topicPrefix),
            ("discovery_prefix", section.discoveryPrefix),
        ]
        for (key, value) in given where value != nil { sources[prefix + "." + key] = "file" }
        if let file = section.passwordFile { sources["mqtt.password"] = "password_file \(file)" }
        if let name = section.passwordCredential { sources["mqtt.password"] = "systemd credential \(name)" }
    }

    /// Bearer tokens, one a line; the file must be private and name at least one.
    private static func tokens(in path: String) throws -> [String] {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            throw StartupError("the token file \(path) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); make it private: chmod 600 \(path)")
        }
        guard let text = try SettingsResolver.readTextFile(path, limit: 65_536) else {
            throw StartupError("cannot read the token file \(path): no such file")
        }
        let tokens = BearerTokens.parse(file: text)
        guard !tokens.isEmpty else { throw StartupError("the token file \(path) names no token") }
        return tokens
    }
}
