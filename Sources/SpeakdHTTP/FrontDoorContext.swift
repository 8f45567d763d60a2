import Hummingbird
import NIOCore

/// Hummingbird's request context plus the peer's address (rate limits per client, the peer in the job log).
///
/// Threading: a value type, one per request.
public struct FrontDoorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Bodies are collected with our own limit (answered 413 with a message), so Hummingbird's is not the binding one.
    public var maxUploadSize: Int { 16 * 1_024 * 1_024 }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address (the rate limiter's key).
    var client: String { remoteAddress?.ipAddress ?? "unknown" }
    /// For the log: "http 127.0.0.1:40312".
    var origin: String { "http \(client):\(remoteAddress?.port.map(String.init) ?? "?")" }
}
