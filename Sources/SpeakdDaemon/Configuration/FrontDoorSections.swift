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
        /// The keys the file set (for the effective configuration's sources).
        public var keysSet: [String] = []
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
        /// The keys the file set (for the effective configuration's sources).
        public var keysSet: [String] = []
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
            section.keysSet = table.keysInLineOrder
            try table.rejectUnknown()
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
            section.keysSet = table.keysInLineOrder
            try table.rejectUnknown()
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
                        environment: [String: String]) throws -> FrontDoorOptions {
        var options = FrontDoorOptions()
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
            } else if let name = section.tokenCredential {
                guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                    throw StartupError("[http] token_credential \"\(name)\" requested, but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
                }
                http.tokens = try tokens(in: directory + "/" + name)
            } else if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty,
                      access(directory + "/" + defaultTokenCredential, R_OK) == 0 {
                http.tokens = try tokens(in: directory + "/" + defaultTokenCredential)
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
            mqtt.topicPrefix = section.topicPrefix ?? mqtt.topicPrefix
            mqtt.discoveryPrefix = section.discoveryPrefix ?? mqtt.discoveryPrefix
            options.mqtt = mqtt
        }
        return options
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
