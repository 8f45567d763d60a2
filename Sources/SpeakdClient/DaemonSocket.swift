import SpeakdProtocol
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Opens a stream socket to speakd, with errors that say whether the daemon is absent, dead (stale socket) or not
/// ours to talk to. Shared by `DaemonConnection` (speakctl) and the speech-dispatcher module's link.
///
/// Threading: stateless; call from any thread.
public enum DaemonSocket {
    /// What speakctl's users can do about a daemon that is not running.
    public static let speakctlHint = "start it with `speakd &` (or `systemctl --user start speakd.socket`), or point speakctl at it with --socket or $SPEAKD_SOCKET"

    /// Returns the connected descriptor (close-on-exec); the caller owns it. `hint` ends the "not running" errors
    /// with what the caller's user can do.
    public static func connect(path: String, hint: String = speakctlHint) throws(ClientError) -> Int32 {
        guard let address = UnixSocketAddress(path: path) else {
            throw ClientError("socket path \(path) is too long for a Unix socket")
        }
        let fd: FileDescriptor
        do { fd = try Syscall.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue)) } catch {
            throw ClientError("cannot create a socket: \(error.message)")
        }
        do {
            try address.withSocketAddress { address, length in
                Result { () throws(Errno) in try Syscall.connect(fd, address, length) }
            }.get()
        } catch {
            try? fd.close()
            switch error {
            case .noSuchFileOrDirectory:
                throw ClientError("speakd is not running: no socket at \(path); \(hint)")
            case .connectionRefused:
                throw ClientError("speakd is not running: \(path) is left over from a daemon that exited; \(hint)")
            case .permissionDenied, .notPermitted:
                throw ClientError("not allowed to talk to speakd at \(path) (permission denied); the socket belongs to another user or group")
            default:
                throw ClientError("cannot connect to speakd at \(path): \(error.message)")
            }
        }
        return fd.rawValue
    }
}
