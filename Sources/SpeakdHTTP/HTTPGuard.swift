import Hummingbird
import Logging
import NIOCore
import SpeakdProtocol

/// Runs before every route: the per-client rate limit (429), then the bearer token (401). Tokens are never logged:
/// a refusal names the peer only.
///
/// Threading: Sendable (immutable; the rate limiter locks itself).
struct HTTPGuard: RouterMiddleware {
    typealias Context = FrontDoorContext
    let tokens: BearerTokens
    let limiter: RateLimiter
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let wait = limiter.take(context.client) {
            var response = HTTPFailure.response(.tooManyRequests, "rate_limited",
                                                "too many requests from \(context.client); try again in \(Int(wait.rounded(.up))) s")
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        if !tokens.isEmpty && !tokens.allows(authorization: request.headers[.authorization]) {
            logger.notice("HTTP request refused: no or wrong bearer token", metadata: ["peer": "\(context.origin)"])
            var response = HTTPFailure.response(.unauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer …)")
            response.headers[.wwwAuthenticate] = "Bearer realm=\"speakd\""
            return response
        }
        return try await next(request, context)
    }
}

/// A refusal before the request reaches the daemon, in the shape of the wire protocol's failures.
///
/// Threading: a value type; Sendable.
struct HTTPFailure: Encodable {
    struct Detail: Encodable { var code: String; var message: String }
    var ok = false
    var error: Detail

    static func response(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let body = WireCodec.encodeLine(HTTPFailure(error: Detail(code: code, message: message)))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
