import SpeakdProtocol
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
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError("cannot create a socket: \(String(cString: strerror(errno)))") }
        guard let address = UnixSocketAddress(path: path) else {
            close(fd)
            throw ClientError("socket path \(path) is too long for a Unix socket")
        }
        let result = address.withSocketAddress { Glibc.connect(fd, $0, $1) }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case ENOENT:
                throw ClientError("speakd is not running: no socket at \(path); \(hint)")
            case ECONNREFUSED:
                throw ClientError("speakd is not running: \(path) is left over from a daemon that exited; \(hint)")
            case EACCES, EPERM:
                throw ClientError("not allowed to talk to speakd at \(path) (permission denied); the socket belongs to another user or group")
            default:
                throw ClientError("cannot connect to speakd at \(path): \(String(cString: strerror(code)))")
            }
        }
        return fd
    }
}
