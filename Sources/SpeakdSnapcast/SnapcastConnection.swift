import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// The byte stream to one snapserver source: a TCP connection to a `mode=server` source, or the write end of a
/// `pipe://` source's named pipe. Non-blocking: `send` takes what fits and says how much; the sender thread waits
/// for writability in `poll` beside its wake-up descriptor.
///
/// Threading: the Snapcast sender thread only (not Sendable).
final class SnapcastConnection {
    let descriptor: FileDescriptor
    private let isSocket: Bool

    private init(descriptor: FileDescriptor, isSocket: Bool) {
        self.descriptor = descriptor
        self.isSocket = isSocket
    }

    deinit { try? descriptor.close() }

    /// Connects to `endpoint`, waiting at most `timeoutMilliseconds` for a TCP handshake. Throws a message for the
    /// log and `status`: refused (snapserver not running), no such pipe, no reader on the pipe.
    static func open(_ endpoint: SnapcastSource.Endpoint, timeoutMilliseconds: Int32) throws(SnapcastConnectionError)
        -> SnapcastConnection {
        switch endpoint {
        case .tcp(let host, let port): return try connect(host: host, port: port, timeoutMilliseconds: timeoutMilliseconds)
        case .pipe(let path):
            do {
                // O_NONBLOCK: opening a pipe with no reader fails (ENXIO) instead of waiting for snapserver.
                let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.nonBlocking, .closeOnExec])
                return SnapcastConnection(descriptor: fd, isSocket: false)
            } catch {
                let reason = (error as? Errno) == .noSuchAddressOrDevice
                    ? "no reader (is snapserver running with this pipe source?)" : Errno.message(of: error)
                throw SnapcastConnectionError("cannot open the snapcast pipe \(path): \(reason)")
            }
        }
    }

    private static func connect(host: String, port: Int, timeoutMilliseconds: Int32) throws(SnapcastConnectionError)
        -> SnapcastConnection {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw SnapcastConnectionError("cannot resolve snapcast host \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var failure = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            do {
                let socket = try Syscall.socket(domain: address.pointee.ai_family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
                let connection = SnapcastConnection(descriptor: socket, isSocket: true)
                do {
                    try Syscall.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen)
                } catch .nowInProgress {
                    try connection.awaitConnect(timeoutMilliseconds: timeoutMilliseconds)
                }
                var noDelay: Int32 = 1   // small paced writes: send each at once
                setsockopt(socket.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
                return connection
            } catch {
                failure = error.message
            }
        }
        throw SnapcastConnectionError("cannot connect to snapserver at \(host):\(port): \(failure)")
    }

    private func awaitConnect(timeoutMilliseconds: Int32) throws(Errno) {
        var entry = pollfd(fd: descriptor.rawValue, events: Int16(POLLOUT), revents: 0)
        guard try Syscall.poll(&entry, count: 1, timeoutMilliseconds: timeoutMilliseconds) > 0 else { throw .timedOut }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor.rawValue, SOL_SOCKET, SO_ERROR, &code, &length)
        if code != 0 { throw Errno(rawValue: code) }
    }

    /// Writes what the source takes now of `bytes`; returns the count (0 when it is full). Throws when the source
    /// went away (snapserver stopped: EPIPE, ECONNRESET).
    func send(_ bytes: UnsafeRawBufferPointer) throws(SnapcastConnectionError) -> Int {
        do {
            if isSocket { return try Syscall.send(descriptor, bytes) }
            return try descriptor.write(bytes)
        } catch let error as Errno where error == .wouldBlock || error == .resourceTemporarilyUnavailable {
            return 0
        } catch {
            throw SnapcastConnectionError("snapserver went away: \(Errno.message(of: error))")
        }
    }
}

/// Why the Snapcast source could not be reached or written; the text is for the log and `status`.
/// Threading: a value type; Sendable.
struct SnapcastConnectionError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
