/// How the HTTP front door listens and whom it lets in (`[http]` in speakd.toml).
///
/// Threading: a value type; Sendable.
public struct HTTPFrontDoorConfiguration: Sendable, Equatable {
    /// Address to bind: loopback by default, so nothing beyond this machine reaches it unless configured.
    public var host = "127.0.0.1"
    /// 0: any free port (tests read the chosen one from the log or `onListening`).
    public var port = 8_765
    /// Bearer tokens accepted; empty: no authentication (allowed on loopback only).
    public var tokens: [String] = []
    /// Largest request body; a longer one is answered 413.
    public var maxBodyBytes = 64 * 1_024
    /// Connections served at once; one beyond it is answered 503 (too_many_connections) and closed.
    public var maxConnections = 64
    /// Requests one client address may make per second on average, and in a burst; beyond it: 429.
    public var requestsPerSecond = 20.0
    public var burst = 40
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    public var certificateFile: String?
    public var keyFile: String?

    public init() {}

    /// Why this configuration must not be served, or nil.
    public var refusal: String? {
        if tokens.isEmpty && !Self.isLoopback(host) {
            return "[http] address = \"\(host)\" is beyond loopback: configure a token (token_file or the systemd credential speakd-http-token) first"
        }
        if (certificateFile == nil) != (keyFile == nil) {
            return "[http] needs both tls_certificate and tls_key, or neither"
        }
        return nil
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}
