import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// `[http] max_connections`: connections beyond it are accepted only to be answered `503` with a message and
/// closed, so a client learns why at once instead of waiting in the kernel's backlog (Hummingbird's own limit stops
/// accepting, which leaves clients hanging until they time out).
///
/// Threading: Sendable; the count is an atomic, changed on the event loops as connections open and close.
final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Atomic<Int>(0)

    init(maximum: Int) {
        self.maximum = max(maximum, 1)
    }

    /// Counts `channel` until it closes; true when it is within the limit.
    func admit(_ channel: any Channel) -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
        return count <= maximum
    }

    /// The whole answer to a refused connection, as bytes on the wire (after TLS, when TLS is on).
    var refusal: ByteBuffer {
        let body = #"{"ok":false,"error":{"code":"too_many_connections","message":"the server has \#(maximum) connections open ([http] max_connections); try again shortly"}}"#
        return ByteBuffer(string: "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                                  + "Retry-After: 1\r\nConnection: close\r\n\r\n" + body)
    }
}

/// A child channel that checks the limit before its base (HTTP/1.1) sees the connection (beyond it, a
/// `RefuseConnectionHandler` answers in the base's place), and handles its requests on the `BackgroundExecutor`.
///
/// Threading: Sendable (immutable).
struct LimitedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let limit: ConnectionLimit
    /// Where the connection's requests are handled (at low priority), not the cooperative pool.
    let executor: BackgroundExecutor

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard !limit.admit(channel) else { return base.setup(channel: channel, logger: logger) }
        let refusal = limit.refusal
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler(refusal: refusal))
        }.flatMap {
            // The base's handlers stay behind the refusal and never see a byte; its task ends when the channel closes.
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(executor) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// Answers the first request of a refused connection with `refusal` and closes it; a client that sends nothing is
/// answered after a second anyway. Nothing it reads goes further down the pipeline.
///
/// Threading: its channel's event loop only.
final class RefuseConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let refusal: ByteBuffer
    private var answered = false
    private var timer: Scheduled<Void>?

    init(refusal: ByteBuffer) {
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.answer(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answer(context)
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        timer?.cancel()
        context.writeAndFlush(wrapOutboundOut(refusal)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
