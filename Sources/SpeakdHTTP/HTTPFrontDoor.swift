import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SpeakdProtocol

/// The HTTP API (docs/http-api.yaml): each route becomes a request of the wire protocol handed to the daemon's own
/// handler (`FrontDoorBackend`), so jobs, priorities and events are the Unix socket's.
///
/// Threading: Sendable; `run` is called once and serves until its task is cancelled.
public final class HTTPFrontDoor: Sendable {
    public let configuration: HTTPFrontDoorConfiguration
    private let backend: any FrontDoorBackend
    private let logger: Logger

    public init(configuration: HTTPFrontDoorConfiguration, backend: any FrontDoorBackend, logger: Logger) throws {
        if let refusal = configuration.refusal { throw HTTPFrontDoorError(description: refusal) }
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    /// Serves until cancelled; `onListening` receives the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let router = Router(context: FrontDoorContext.self)
        router.add(middleware: HTTPGuard(tokens: BearerTokens(configuration.tokens),
                                         limiter: RateLimiter(requestsPerSecond: configuration.requestsPerSecond,
                                                              burst: configuration.burst),
                                         logger: logger))
        for route in HTTPRoute.allCases {
            router.on(RouterPath(stringLiteral: route.routerPath), method: route.method == "GET" ? .get : .post) { request, context in
                try await self.respond(route, request, context)
            }
        }
        let address = BindAddress.hostname(configuration.host, port: configuration.port)
        let tls = try TLSFiles(configuration)
        let hangUp = tls?.reloadOnHangUp(logger: logger)
        defer { hangUp?.cancel() }
        let limit = ConnectionLimit(maximum: configuration.maxConnections)
        let executor = BackgroundExecutor(name: "speakd-http")
        let server = tls?.serverBuilder(limit: limit, executor: executor) ?? HTTPServerBuilder { responder in
            LimitedChannel(base: HTTP1Channel(responder: responder), limit: limit, executor: executor)
        }
        let group = try await BackgroundExecutor.eventLoopGroup()
        let app = Application(router: router, server: server,
                              configuration: .init(address: address, serverName: "speakd"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
                              eventLoopGroupProvider: .shared(group), logger: logger)
        do {
            try await app.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func respond(_ route: HTTPRoute, _ request: Request, _ context: FrontDoorContext) async throws -> Response {
        let origin = context.origin
        switch route {
        case .speak:
            var request = request
            let fields: [String: JSONValue]
            switch await speakFields(&request) {
            case .success(let parsed): fields = parsed
            case .failure(let refusal): return refusal.response
            }
            let wait = ["1", "true", "yes"].contains(request.uri.queryParameters.get("wait") ?? "")
            let (reply, final) = await backend.speak(fields, wait: wait, origin: origin)
            if let final { return Self.json(.ok, final) }
            return Self.reply(reply)
        case .cancel:
            let job = context.parameters.get("job") ?? ""
            return Self.reply(await backend.handle(op: "cancel", fields: ["job": .string(job)], connection: backend.newConnection(), origin: origin))
        case .metrics:
            let reply = await backend.handle(op: "metrics", connection: backend.newConnection(), origin: origin)
            guard reply.ok, let text = reply.metrics else { return Self.reply(reply) }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        case .events:
            return EventStream(backend: backend).response()
        default:
            return Self.reply(await backend.handle(op: route.operation, connection: backend.newConnection(), origin: origin))
        }
    }

    /// The speak fields: a JSON object (the socket's `speak` fields), or a text/plain body as `input`.
    private func speakFields(_ request: inout Request) async -> Result<[String: JSONValue], Refusal> {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            return .failure(Refusal(.contentTooLarge, "body_too_large", "the body of \(length) bytes exceeds the limit of \(limit) bytes ([http] max_body_bytes)"))
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            return .failure(Refusal(.contentTooLarge, "body_too_large", "the body exceeds the limit of \(limit) bytes ([http] max_body_bytes)"))
        }
        return HTTPSpeakBody.fields(body.readableBytesView, contentType: request.headers[.contentType])
            .mapError { Refusal(.badRequest, $0.code, $0.message) }
    }

    static func reply(_ reply: Reply) -> Response {
        json(reply.ok ? .ok : status(for: reply.error?.code), reply)
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: WireCodec.encodeLine(value))))
    }

    static func status(for code: ProtocolError.Code?) -> HTTPResponse.Status {
        switch code {
        case .invalidJSON, .invalidRequest, .invalidField, .unknownOperation, .unsupportedVersion: .badRequest
        case .unknownJob: .notFound
        case .notAllowed: .forbidden
        case .queueFull, .tooManyConnections: .serviceUnavailable
        case .upstreamRejected, .authentication, .upstreamUnavailable, .synthesisFailed: .badGateway
        default: .internalServerError
        }
    }

    struct Refusal: Error {
        var status: HTTPResponse.Status
        var code: String
        var message: String
        init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
            self.status = status
            self.code = code
            self.message = message
        }
        var response: Response { HTTPFailure.response(status, code, message) }
    }
}

/// A configuration the HTTP door refuses to serve.
public struct HTTPFrontDoorError: Error, CustomStringConvertible {
    public var description: String
}
