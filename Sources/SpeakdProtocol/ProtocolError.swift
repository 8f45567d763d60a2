/// What went wrong with a request, as sent in a reply's `error` member.
///
/// Threading: a value type; Sendable.
public struct ProtocolError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// Stable machine-readable codes; the message is for people.
    public enum Code: String, Sendable, Codable {
        case invalidJSON = "invalid_json"
        case invalidRequest = "invalid_request"
        case invalidField = "invalid_field"
        case unknownOperation = "unknown_op"
        case unsupportedVersion = "unsupported_version"
        case upstreamRejected = "upstream_rejected"
        case authentication = "authentication"
        case upstreamUnavailable = "upstream_unavailable"
        case synthesisFailed = "synthesis_failed"
        case audioDevice = "audio_device"
        case unknownJob = "unknown_job"
        case notAllowed = "not_allowed"
        case queueFull = "queue_full"
        case tooManyConnections = "too_many_connections"
        case internalError = "internal"
    }

    public var code: Code
    public var message: String
    /// The request member at fault, for `invalid_field`.
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { message }
}
