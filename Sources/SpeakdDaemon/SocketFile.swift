import SpeakdProtocol
import SpeakdSystem
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
            let error = Errno.current
            guard error == .noSuchFileOrDirectory else { throw Failure(description: "cannot inspect \(path): \(error.message)") }
            try makeParentDirectory(of: path)
            return
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket; refusing to replace it (remove it, or choose another --socket)")
        }
        if isAnswering(path) {
            throw Failure(description: "another speakd is already running on \(path); stop it first (speakctl status shows it)")
        }
        if unlink(path) != 0, case let error = Errno.current, error != .noSuchFileOrDirectory {
            throw Failure(description: "cannot remove the stale socket \(path): \(error.message)")
        }
    }

    /// Whether something accepts connections on the socket at `path`.
    static func isAnswering(_ path: String) -> Bool {
        guard let address = UnixSocketAddress(path: path),
              let fd = try? Syscall.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue)) else { return false }
        defer { try? fd.close() }
        return address.withSocketAddress { address, length in (try? Syscall.connect(fd, address, length)) != nil }
    }

    private static func makeParentDirectory(of path: String) throws(Failure) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let parent = String(path[..<slash])
        var info = stat()
        if stat(parent, &info) == 0 { return }
        try makeParentDirectory(of: parent)
        if mkdir(parent, 0o700) != 0, case let error = Errno.current, error != .fileExists {
            throw Failure(description: "cannot create the socket's directory \(parent): \(error.message)")
        }
    }
}
