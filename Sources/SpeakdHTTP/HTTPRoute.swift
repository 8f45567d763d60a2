/// Every route of the HTTP API: the router is built from this table, and the OpenAPI test (docs/http-api.yaml)
/// checks the document against it.
///
/// Threading: a value type; Sendable.
public enum HTTPRoute: String, Sendable, CaseIterable {
    case speak, stop, pause, resume, skip, cancel, status, jobs, events, metrics

    public var method: String {
        switch self {
        case .status, .jobs, .events, .metrics: "GET"
        default: "POST"
        }
    }

    /// In OpenAPI's notation (`{job}` is a path parameter).
    public var path: String {
        switch self {
        case .cancel: "/v1/jobs/{job}/cancel"
        case .metrics: "/metrics"
        default: "/v1/\(rawValue)"
        }
    }

    /// In Hummingbird's notation.
    var routerPath: String { self == .cancel ? "/v1/jobs/:job/cancel" : path }

    /// The wire-protocol operation it stands for (docs/protocol.md).
    var operation: String {
        switch self {
        case .jobs: "list"
        case .events: "subscribe"
        default: rawValue
        }
    }
}
