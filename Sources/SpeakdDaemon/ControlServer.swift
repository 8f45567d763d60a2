import Logging
import NIOCore
import NIOPosix
import SpeakdProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Serves the wire protocol (docs/protocol.md) on a Unix socket: one task per connection reads request lines and
/// answers each; a writer task per connection sends replies and events in order.
///
/// Threading: Sendable; `serve` is called once and runs until the process exits (see `Daemon` for shutdown).
final class ControlServer: Sendable {
    private let path: String
    private let handler: RequestHandler
    private let events: EventHub
    private let logger: Logger
    private let nextConnection = Atomic<UInt64>(1)
    private let accessList: PeerAccessList?
    private let maximumConnections: Int
    private let maximumLineBytes: Int
    private let maximumUnreadBytes: Int
    private let openConnections = Atomic<Int>(0)

    init(path: String, handler: RequestHandler, events: EventHub, logger: Logger, accessList: PeerAccessList? = nil,
         maximumConnections: Int = 1_024, maximumLineBytes: Int = SpeechLimits.maxLineBytes,
         maximumUnreadBytes: Int = ControlServer.defaultMaximumUnreadBytes) {
        self.accessList = accessList
        self.maximumConnections = maximumConnections
        self.maximumLineBytes = maximumLineBytes
        self.maximumUnreadBytes = maximumUnreadBytes
        self.path = path
        self.handler = handler
        self.events = events
        self.logger = logger
    }

    /// Binds the socket (mode 0600 for a user instance, 0660 for the system one). Returns once bound;
    /// `serve` then accepts connections.
    func bind() async throws -> NIOAsyncServerChannel {
        try SocketFile.prepare(path)
        let mode: mode_t = SocketPath.isSystemInstance(path) ? 0o660 : 0o600
        // The umask makes the socket file private from its first instant; chmod states the mode explicitly.
        let previous = umask(~mode & 0o777)
        defer { umask(previous) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .bind(unixDomainSocketPath: path, childChannelInitializer: initializeConnection)
        chmod(path, mode)
        return channel
    }

    /// Serves a listening socket inherited from systemd (socket activation); its path and mode are the unit's.
    func adopt(_ descriptor: Int32) async throws -> NIOAsyncServerChannel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(descriptor, childChannelInitializer: initializeConnection)
    }

    private var initializeConnection: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<LineFrame, ByteBuffer>> {
        let maximumLineBytes = maximumLineBytes
        return { channel in channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: maximumLineBytes)))
            // Closed (and its writer finished) on deinit: a connection the server accepted in the instant it was
            // closed for shutdown is never handed to `serve`, and NIO traps on a writer dropped unfinished otherwise.
            // (NIO deprecates the deinit teardown in favour of executeThenClose, which every connection handed over
            // does get; this is the one it cannot reach.)
            return try NIOAsyncChannel<LineFrame, ByteBuffer>(synchronouslyWrapping: channel)
        } }
    }

    /// Accepts and serves connections until `stopAccepting` closes the listening socket; then ends the connections
    /// still open and returns. Never cancel it to stop it: a cancelled accept loop drops connections already accepted
    /// but not yet handed over, and NIO traps on a channel dropped without being closed.
    func serve(_ server: NIOAsyncServerChannel) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    let id = nextConnection.add(1, ordering: .relaxed).oldValue
                    group.addTask { await self.handle(connection, id: id) }
                }
            }
            // The listening socket is closed (shutdown): every accepted connection has its handler; end them.
            group.cancelAll()
        }
    }

    /// Stops accepting connections: `serve` then hands over what was already accepted, closes every connection and
    /// returns.
    func stopAccepting(_ server: NIOAsyncServerChannel) {
        server.channel.close(promise: nil)
    }

    /// Bytes of replies and events a connection may leave unread before it is dropped: a client that subscribes and
    /// never reads must not grow the daemon without bound (nor block anyone: writes to it wait on its own task).
    /// Default of `[limits] max_unread_bytes`.
    static let defaultMaximumUnreadBytes = 4 * 1024 * 1024

    private func handle(_ connection: NIOAsyncChannel<LineFrame, ByteBuffer>, id: ConnectionID) async {
        let open = openConnections.add(1, ordering: .relaxed).newValue
        defer { openConnections.subtract(1, ordering: .relaxed) }
        guard open <= maximumConnections else {
            let refusal = Reply.failure(id: .null, ProtocolError(.tooManyConnections, "speakd already serves \(maximumConnections) connections (max_connections); try again later"))
            try? await connection.executeThenClose { _, outbound in
                try await outbound.write(ByteBuffer(bytes: WireCodec.encodeLine(refusal)))
            }
            return
        }
        let (outgoing, sink) = AsyncStream.makeStream(of: [UInt8].self)
        let unread = UnreadBytes()
        let channel = connection.channel
        let logger = logger
        let maximumUnreadBytes = maximumUnreadBytes
        let send: @Sendable ([UInt8]) -> Void = { line in
            let backlog = unread.count.add(line.count, ordering: .relaxed).newValue
            guard backlog <= maximumUnreadBytes else {
                if backlog - line.count <= maximumUnreadBytes {
                    logger.warning("client does not read its events; disconnecting it",
                                   metadata: ["connection": "\(id)", "unread": "\(backlog - line.count)"])
                    sink.finish()
                    channel.close(promise: nil)
                }
                return
            }
            sink.yield(line)
        }
        let peer = await PeerCredentials.of(channel)
        if let accessList {
            guard let peer, accessList.allows(peer) else {
                let who = peer.map { "uid \($0.uid) (gid \($0.gid))" } ?? "a peer whose credentials cannot be read"
                logger.warning("connection refused by the access list", metadata: ["peer": "\(peer.map(String.init(describing:)) ?? "unknown")"])
                let refusal = Reply.failure(id: .null, ProtocolError(.notAllowed, "\(who) is not allowed to use this speakd (allowed_uids / allowed_gids in its configuration)"))
                try? await connection.executeThenClose { _, outbound in
                    try await outbound.write(ByteBuffer(bytes: WireCodec.encodeLine(refusal)))
                }
                return
            }
        }
        events.register(id) { event in send(WireCodec.encodeLine(event)) }
        defer { events.unregister(id) }
        send(WireCodec.encodeLine(Event(event: .hello, time: monotonicSeconds(), protocol: speakdProtocolVersion,
                                        server: "speakd \(speakdVersion)")))
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await line in outgoing {
                            try await outbound.write(ByteBuffer(bytes: line))
                            unread.count.subtract(line.count, ordering: .relaxed)
                        }
                    }
                    for try await frame in inbound {
                        switch frame {
                        case .line(let buffer):
                            if buffer.readableBytes == 0 { continue }
                            let reply = await handler.handle(buffer.readableBytesView, connection: id, peer: peer)
                            send(WireCodec.encodeLine(reply))
                        case .tooLong(let bytes):
                            send(WireCodec.encodeLine(Reply.failure(id: .null, ProtocolError(
                                .invalidRequest, "request line of \(bytes) bytes exceeds the limit of \(maximumLineBytes) bytes (max_line_bytes)"))))
                        }
                    }
                    // The client closed its side: let queued replies and events drain, then finish.
                    sink.finish()
                    try await group.waitForAll()
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["connection": "\(id)", "error": "\(error)"])
        }
    }
}

/// Bytes queued for a connection and not yet written to its socket.
///
/// Threading: Sendable (atomic).
private final class UnreadBytes: Sendable {
    let count = Atomic<Int>(0)
}
