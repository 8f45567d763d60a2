import SpeakdProtocol
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Why talking to the daemon failed, in words for the person at the shell.
public struct ClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking connection to speakd's Unix socket, speaking the line protocol. Deliberately free of SwiftNIO and
/// full Foundation: speakctl runs once per announcement, and its start-up time is part of the latency.
///
/// Threading: not thread-safe; one thread uses a connection.
public final class DaemonConnection {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 1
    /// Events that arrived while waiting for a reply, in order.
    private var pendingEvents: [Event] = []

    /// Connects. The error says whether the daemon is absent, dead (stale socket) or not ours to talk to.
    public init(path: String) throws(ClientError) {
        self.path = path
        self.fd = try DaemonSocket.connect(path: path)
    }

    deinit { close(fd) }

    /// Sends a request and waits for its reply. Events that arrive first are kept for `nextEvent`.
    public func request(_ op: String, _ fields: [String: JSONValue] = [:]) throws(ClientError) -> Reply {
        let id = JSONValue.number(Double(nextID))
        nextID += 1
        do {
            try send(WireCodec.encodeRequest(id: id, op: op, fields: fields))
        } catch {
            // The daemon may have answered and closed before reading (a refusal such as not_allowed or
            // too_many_connections): its reply is still readable, and says more than "broken pipe".
            if case .reply(let reply)? = try? readMessage(), reply.id == .null { return reply }
            throw error
        }
        while true {
            switch try readMessage() {
            case .reply(let reply) where reply.id == id || reply.id == .null:
                return reply
            case .reply:
                continue
            case .event(let event):
                if event.event != .hello { pendingEvents.append(event) }
            }
        }
    }

    /// The next job event (blocking).
    /// Events that arrived while waiting for replies and were not read yet; empties the list.
    public func takeBufferedEvents() -> [Event] {
        defer { pendingEvents.removeAll() }
        return pendingEvents
    }

    public func nextEvent() throws(ClientError) -> Event {
        while true {
            let event = try nextAnyEvent()
            if event.event == .job { return event }
        }
    }

    /// The next event of any kind but `hello`: job, archive and audio events (blocking).
    public func nextAnyEvent() throws(ClientError) -> Event {
        if !pendingEvents.isEmpty { return pendingEvents.removeFirst() }
        while true {
            if case .event(let event) = try readMessage(), event.event != .hello { return event }
        }
    }

    private func send(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a daemon that closed the connection is an error to report, not a SIGPIPE that kills us.
            do {
                offset += try bytes.withUnsafeBytes { (all) throws(Errno) in
                    try Syscall.send(FileDescriptor(rawValue: fd), UnsafeRawBufferPointer(rebasing: all[offset...]))
                }
            } catch {
                throw ClientError("lost the connection to speakd: \(Errno.message(of: error))")
            }
        }
    }

    private func readMessage() throws(ClientError) -> ServerMessage {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<newline]
                defer { buffer.removeSubrange(...newline) }
                do {
                    return try WireCodec.decodeServerLine(line)
                } catch {
                    throw ClientError("speakd sent a line this speakctl does not understand (version mismatch?): \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count: Int
            do { count = try chunk.withUnsafeMutableBytes { try FileDescriptor(rawValue: fd).read(into: $0) } } catch {
                throw ClientError("lost the connection to speakd: \(Errno.message(of: error))")
            }
            if count == 0 { throw ClientError("speakd closed the connection (did it exit?)") }
            buffer += chunk[0..<count]
        }
    }
}
