#if canImport(Glibc)
import Glibc
#endif

/// Where the MQTT front door connects and which topics it uses (`[mqtt]` in speakd.toml).
///
/// Topics: `{topicPrefix}/{node}/say` (plain text, or the JSON speak fields), `{topicPrefix}/{node}/command`
/// (`stop`, `pause`, `resume`, `skip`), `{topicPrefix}/{node}/state` (JSON, retained),
/// `{topicPrefix}/{node}/availability` (`online` / `offline`, retained, `offline` also the last will), and Home
/// Assistant's discovery configs under `{discoveryPrefix}/…/config` (retained).
///
/// Threading: a value type; Sendable.
public struct MQTTConfiguration: Sendable, Equatable {
    public var host = "localhost"
    public var port = 1_883
    /// One topic level naming this speaker (default: the host name).
    public var node: String
    public var username: String?
    public var password: String?
    /// A CA file: connect with TLS, verifying the broker against it.
    public var caFile: String?
    public var topicPrefix = "speakd"
    public var discoveryPrefix = "homeassistant"
    /// Seconds between keep-alive pings; the broker declares us gone (the last will) after 1.5 of them.
    public var keepAliveSeconds = 30
    /// Reconnection backoff: from the first delay, doubling, up to the last (libmosquitto's exponential backoff).
    public var reconnectDelaySeconds: ClosedRange<Int> = 1...30

    public init(node: String) {
        self.node = node
    }

    var base: String { "\(topicPrefix)/\(node)" }
    var sayTopic: String { "\(base)/say" }
    var commandTopic: String { "\(base)/command" }
    var stateTopic: String { "\(base)/state" }
    var availabilityTopic: String { "\(base)/availability" }

    /// The host name, as one topic level of letters, digits, `-` and `_`.
    public static func defaultNode() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let cleaned = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        return cleaned.isEmpty ? "speakd" : cleaned
    }
}
