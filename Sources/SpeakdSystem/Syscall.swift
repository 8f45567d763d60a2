@_exported import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The one way speakd makes a system call that swift-system does not wrap (sockets, `poll`, eventfd, `send`): the
/// call is retried on EINTR, errno is read once, right after the call and before anything else can change it (the
/// functions are `@inline(never)` so no reference counting runs between), and EBADF or EFAULT stop the process:
/// a closed descriptor or a wild pointer is a bug in speakd, never a condition to handle. The model is swift-nio's
/// `NIOPosix/System.swift`. Files and pipes use swift-system's `FileDescriptor` directly, which already retries
/// EINTR and throws `Errno`.
///
/// Threading: stateless; call from any thread. Nothing allocates unless the call fails, so the audio thread may
/// use it.
public enum Syscall {
    /// Calls `body`, which returns -1 and sets errno on failure; retries it while it is interrupted (unless
    /// `retryOnInterrupt` is false: `connect` must not be repeated), and throws the failure's `Errno`.
    @inline(never)
    public static func call<Result: FixedWidthInteger>(
        _ function: StaticString, retryOnInterrupt: Bool = true, _ body: () -> Result
    ) throws(Errno) -> Result {
        while true {
            let result = body()
            guard result == -1 else { return result }
            let code = errno
            if code == EINTR && retryOnInterrupt { continue }
            preconditionAcceptable(code, function)
            throw Errno(rawValue: code)
        }
    }

    /// For calls that return an error number instead of setting errno (the pthread functions): 0 is success.
    @inline(never)
    public static func checked(_ function: StaticString, _ body: () -> Int32) throws(Errno) {
        let code = body()
        guard code != 0 else { return }
        preconditionAcceptable(code, function)
        throw Errno(rawValue: code)
    }

    /// A socket, close-on-exec.
    public static func socket(domain: Int32, type: Int32) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try call("socket") { Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), 0) })
    }

    /// `connect(2)`, not retried: an interrupted connect goes on in the kernel, and a second call would fail with
    /// EALREADY. Throws EINTR then; a Unix-domain connect in practice completes or fails at once.
    public static func connect(_ socket: FileDescriptor, _ address: UnsafePointer<sockaddr>,
                               _ length: socklen_t) throws(Errno) {
        _ = try call("connect", retryOnInterrupt: false) { Glibc.connect(socket.rawValue, address, length) }
    }

    /// `send(2)` with MSG_NOSIGNAL: a peer that closed is an EPIPE to report, not a SIGPIPE that kills the process.
    public static func send(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try call("send") { Glibc.send(socket.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// `sendto(2)` with MSG_NOSIGNAL, for datagrams.
    public static func send(_ socket: FileDescriptor, _ bytes: UnsafeRawBufferPointer,
                            to address: UnsafePointer<sockaddr>, _ length: socklen_t) throws(Errno) -> Int {
        try call("sendto") {
            Glibc.sendto(socket.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length)
        }
    }

    /// `poll(2)`: how many descriptors are ready (0 on timeout). Interrupted, it is called again with the same
    /// timeout (callers' timeouts are short and bound a wait, not a deadline).
    public static func poll(_ descriptors: UnsafeMutablePointer<pollfd>, count: Int,
                            timeoutMilliseconds: Int32) throws(Errno) -> Int {
        Int(try call("poll") { Glibc.poll(descriptors, nfds_t(count), timeoutMilliseconds) })
    }

    /// EBADF and EFAULT mean speakd used a descriptor it had closed or passed a bad pointer: a bug to stop at,
    /// not an error to report to a user.
    @inline(__always)
    static func preconditionAcceptable(_ code: Int32, _ function: StaticString) {
        precondition(code != EBADF && code != EFAULT, "\(function) failed with \(Errno(rawValue: code)): a bug in speakd")
    }
}

extension Errno {
    /// The error's message as `strerror` words it ("No such file or directory"), for messages to users.
    public var message: String { String(cString: strerror(rawValue)) }
}

extension Errno {
    /// errno as it is now: read it right after the failed call, before anything else runs.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// The words for an error swift-system threw (always an `Errno`), else its description.
    public static func message(of error: any Error) -> String { (error as? Errno)?.message ?? "\(error)" }
}
