import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Prepares the socket's path before binding: a stale socket from a dead daemon is removed; a live daemon, or a
/// file that is not a socket, makes startup fail with a message saying which.
///
/// Threading: call once at startup.
enum SocketFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func prepare(_ path: String) throws(Failure) {
        guard UnixSocketAddress(path: path) != nil else {
            throw Failure(description: "socket path \(path) is too long for a Unix socket (\(path.utf8.count) bytes, the limit is 107)")
        }
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw Failure(description: "cannot inspect \(path): \(String(cString: strerror(errno)))") }
            try makeParentDirectory(of: path)
            return
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket; refusing to replace it (remove it, or choose another --socket)")
        }
        if isAnswering(path) {
            throw Failure(description: "another speakd is already running on \(path); stop it first (speakctl status shows it)")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Failure(description: "cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether something accepts connections on the socket at `path`.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard let address = UnixSocketAddress(path: path) else { return false }
        return address.withSocketAddress { connect(fd, $0, $1) } == 0
    }

    private static func makeParentDirectory(of path: String) throws(Failure) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let parent = String(path[..<slash])
        var info = stat()
        if stat(parent, &info) == 0 { return }
        try makeParentDirectory(of: parent)
        if mkdir(parent, 0o700) != 0 && errno != EEXIST {
            throw Failure(description: "cannot create the socket's directory \(parent): \(String(cString: strerror(errno)))")
        }
    }
}
