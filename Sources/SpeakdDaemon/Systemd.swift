import SpeakdProtocol
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Socket activation with `sd_listen_fds(3)` semantics, without libsystemd: when `LISTEN_PID` is this process and
/// `LISTEN_FDS` ≥ 1, the listening sockets are file descriptors 3, 4, …
///
/// Threading: call once at startup, before other threads read the environment.
enum SocketActivation {
    static let firstDescriptor: Int32 = 3

    /// The inherited listening sockets (marked close-on-exec), and the variables removed so children do not see them.
    static func inheritedSockets(environment: [String: String]) -> [Int32] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
              let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0 else { return [] }
        return (firstDescriptor..<(firstDescriptor + count)).map { descriptor in
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            return descriptor
        }
    }
}

/// The service notification protocol (`sd_notify(3)`), without libsystemd: one datagram per message to the Unix
/// socket in `$NOTIFY_SOCKET` (an `@` prefix means the abstract namespace).
///
/// Threading: Sendable; `send` from any thread (one `sendto` per call).
final class SystemdNotifier: Sendable {
    private let descriptor: FileDescriptor
    private let address: UnixSocketAddress
    /// Half of `WATCHDOG_USEC` (systemd's advice), when the watchdog is on for this process.
    let watchdogInterval: Duration?

    init?(environment: [String: String]) {
        defer {
            unsetenv("NOTIFY_SOCKET")
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@"),
              let address = UnixSocketAddress(path: path) else { return nil }
        self.address = address
        guard let descriptor = try? Syscall.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue)) else { return nil }
        self.descriptor = descriptor
        let watchdogPID = environment["WATCHDOG_PID"].flatMap(Int32.init)
        if let microseconds = environment["WATCHDOG_USEC"].flatMap(Int64.init), microseconds > 0,
           watchdogPID == nil || watchdogPID == getpid() {
            watchdogInterval = .microseconds(microseconds / 2)
        } else {
            watchdogInterval = nil
        }
    }

    deinit { try? descriptor.close() }

    /// Sends newline-separated assignments, e.g. "READY=1\nSTATUS=Listening".
    func send(_ state: String) {
        let bytes = Array(state.utf8)
        // A lost notification is not worth failing for: systemd's own timeouts cover a missing READY or WATCHDOG.
        _ = address.withSocketAddress { address, length in
            bytes.withUnsafeBytes { try? Syscall.send(descriptor, $0, to: address, length) }
        }
    }
}
