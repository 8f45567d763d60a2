import Foundation
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// A failed exchange with snapserver's control port: unreachable, timed out, closed, an answer that is not JSON-RPC,
/// or a JSON-RPC error object. The text says which. Threading: a value type; Sendable.
public struct SnapcastRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    /// True for a JSON-RPC error object (the server refused the request: unknown group or stream…): trying again
    /// will not help. False when the exchange itself failed.
    public var refusedByServer: Bool
    public init(_ description: String, refusedByServer: Bool = false) {
        self.description = description
        self.refusedByServer = refusedByServer
    }
}

/// A small blocking JSON-RPC 2.0 client for snapserver's control port (TCP, usually 1705): one JSON object per line
/// each way. Plain POSIX sockets, no NIO: it runs on the group switcher's own thread, where blocking is the point.
///
/// The connection is made on the first call and kept; any failure closes it, so the next call starts afresh.
/// Lines that are not the answer to the request in flight (notifications such as `Group.OnStreamChanged`, which
/// snapserver sends to its other control connections) are skipped.
///
/// Threading: not Sendable; one thread uses an instance at a time. A call blocks for at most `connectTimeout` to
/// connect plus `readTimeout` for the exchange.
public final class SnapcastRPCClient {
    public let server: HostAndPort
    public let connectTimeout: Double
    public let readTimeout: Double
    private var socket: FileDescriptor?
    private var received: [UInt8] = []
    private var nextID = 1
    /// An answer longer than this is refused (a GetStatus of a large house is tens of kilobytes).
    static let maximumLineBytes = 8 << 20

    public init(server: HostAndPort, connectTimeout: Double = 2, readTimeout: Double = 3) {
        self.server = server
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
    }

    deinit { close() }

    public func close() {
        if let socket { try? socket.close() }
        socket = nil
        received.removeAll()
    }

    /// Sends `method` (with `params` when given) and returns the answer's `result` as JSONSerialization decoded it.
    public func call(_ method: String, params: [String: Any]? = nil) throws(SnapcastRPCError) -> Any {
        do {
            return try exchange(method, params: params)
        } catch {
            close()
            throw error
        }
    }

    private func exchange(_ method: String, params: [String: Any]?) throws(SnapcastRPCError) -> Any {
        let id = nextID
        nextID += 1
        var request: [String: Any] = ["id": id, "jsonrpc": "2.0", "method": method]
        if let params { request["params"] = params }
        guard var line = try? JSONSerialization.data(withJSONObject: request) else {
            throw SnapcastRPCError("\(method): the parameters cannot be written as JSON")
        }
        line.append(UInt8(ascii: "\n"))

        let descriptor: FileDescriptor
        if let socket {
            descriptor = socket
        } else {
            descriptor = try connect()
            socket = descriptor
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(readTimeout * 1000))
        try send(line, on: descriptor, method: method, deadline: deadline)
        while true {
            let answer = try readLine(from: descriptor, method: method, deadline: deadline)
            guard let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] else {
                throw SnapcastRPCError("\(method): \(serverName) answered with something that is not a JSON object")
            }
            let answerID = object["id"]
            let isOurs = (answerID as? Int) == id
            // A parse error names no id (null): it can only be about the line just sent.
            let isUnattributedError = answerID is NSNull && object["error"] != nil
            guard isOurs || isUnattributedError else { continue }
            if let error = object["error"] as? [String: Any] {
                let message = error["message"] as? String ?? "error"
                let data = (error["data"] as? String).map { " (\($0))" } ?? ""
                let code = (error["code"] as? Int).map { ", code \($0)" } ?? ""
                throw SnapcastRPCError("\(method): \(serverName) answered \(message)\(data)\(code)", refusedByServer: true)
            }
            return object["result"] ?? NSNull()
        }
    }

    private var serverName: String { "snapserver at \(server.host):\(server.port)" }

    // MARK: - The socket

    private func connect() throws(SnapcastRPCError) -> FileDescriptor {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(server.host, String(server.port), &hints, &list)
        guard status == 0, let list else {
            throw SnapcastRPCError("cannot resolve snapserver's host \(server.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var failure = SnapcastRPCError("cannot connect to \(serverName): no address")
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let info = entry?.pointee {
            entry = info.ai_next
            do {
                return try connect(info)
            } catch {
                failure = error
            }
        }
        throw failure
    }

    /// A non-blocking connect bounded by `connectTimeout`; the socket stays non-blocking (every wait is a `poll`).
    private func connect(_ info: addrinfo) throws(SnapcastRPCError) -> FileDescriptor {
        let descriptor: FileDescriptor
        do {
            descriptor = try Syscall.socket(domain: info.ai_family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
        } catch {
            throw SnapcastRPCError("cannot connect to \(serverName): socket: \(error.message)")
        }
        var failure: String?
        do {
            try Syscall.connect(descriptor, info.ai_addr, info.ai_addrlen)
        } catch where error.rawValue == EINPROGRESS || error.rawValue == EINTR {
            failure = connectionFailure(descriptor)
        } catch {
            failure = error.message
        }
        if let failure {
            try? descriptor.close()
            throw SnapcastRPCError("cannot connect to \(serverName): \(failure)")
        }
        return descriptor
    }

    /// Waits for a connect in progress to end; the failure's words, nil when it connected.
    private func connectionFailure(_ descriptor: FileDescriptor) -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(connectTimeout * 1000))
        do {
            guard try wait(descriptor, for: Int16(POLLOUT), until: deadline) else {
                return "no answer within \(connectTimeout) s"
            }
        } catch {
            return error.message
        }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(descriptor.rawValue, SOL_SOCKET, SO_ERROR, &code, &length)
        return code == 0 ? nil : Errno(rawValue: code).message
    }

    /// Waits until `descriptor` is ready for `events`; false when `deadline` passed first.
    private func wait(_ descriptor: FileDescriptor, for events: Int16,
                      until deadline: ContinuousClock.Instant) throws(Errno) -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return false }
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: descriptor.rawValue, events: events, revents: 0)
            if try Syscall.poll(&entry, count: 1, timeoutMilliseconds: milliseconds) > 0 { return true }
        }
    }

    private func send(_ bytes: Data, on descriptor: FileDescriptor, method: String,
                      deadline: ContinuousClock.Instant) throws(SnapcastRPCError) {
        var offset = 0
        while offset < bytes.count {
            do {
                let sent = try bytes.withUnsafeBytes { raw in
                    try Syscall.send(descriptor, UnsafeRawBufferPointer(rebasing: raw[offset...]))
                }
                offset += sent
            } catch let error as Errno where error.rawValue == EAGAIN {
                let ready: Bool
                do { ready = try wait(descriptor, for: Int16(POLLOUT), until: deadline) } catch {
                    throw SnapcastRPCError("\(method): sending to \(serverName): \(error.message)")
                }
                guard ready else { throw SnapcastRPCError("\(method): \(serverName) took no request within \(readTimeout) s") }
            } catch {
                throw SnapcastRPCError("\(method): sending to \(serverName): \(Errno.message(of: error))")
            }
        }
    }

    /// The next line (without its end), reading more as needed until `deadline`.
    private func readLine(from descriptor: FileDescriptor, method: String,
                          deadline: ContinuousClock.Instant) throws(SnapcastRPCError) -> Data {
        var searched = 0
        while true {
            if let end = received[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(received[..<end])
                received.removeSubrange(...end)
                return line
            }
            searched = received.count
            guard received.count <= Self.maximumLineBytes else {
                throw SnapcastRPCError("\(method): \(serverName) sent a line longer than \(Self.maximumLineBytes) bytes")
            }
            do {
                guard try wait(descriptor, for: Int16(POLLIN), until: deadline) else {
                    throw SnapcastRPCError("\(method): no answer from \(serverName) within \(readTimeout) s")
                }
                var chunk = [UInt8](repeating: 0, count: 65_536)
                let count = try chunk.withUnsafeMutableBytes { raw in
                    try Syscall.call("recv") { recv(descriptor.rawValue, raw.baseAddress, raw.count, 0) }
                }
                guard count > 0 else { throw SnapcastRPCError("\(method): \(serverName) closed the connection") }
                received.append(contentsOf: chunk[..<count])
            } catch let error as SnapcastRPCError {
                throw error
            } catch let error as Errno where error.rawValue == EAGAIN {
                continue
            } catch {
                throw SnapcastRPCError("\(method): reading from \(serverName): \(Errno.message(of: error))")
            }
        }
    }
}
