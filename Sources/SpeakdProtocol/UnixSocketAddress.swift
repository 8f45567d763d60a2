#if canImport(Glibc)
import Glibc
#endif

/// A `sockaddr_un` for a path, built once for the daemon, its clients and the systemd notifier alike. A leading `@`
/// names the abstract namespace (as `$NOTIFY_SOCKET` does); its length is then exactly the name's.
///
/// Threading: a value type; Sendable.
public struct UnixSocketAddress: Sendable {
    private var storage = sockaddr_un()
    public let length: socklen_t

    /// nil when the path does not fit `sun_path` (107 bytes and a terminator).
    public init?(path: String) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
        storage.sun_family = sa_family_t(AF_UNIX)
        let abstract = bytes.first == UInt8(ascii: "@")
        withUnsafeMutableBytes(of: &storage.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            if abstract { buffer[0] = 0 }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        length = socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1))
    }

    /// Calls `body` with the address as the socket calls take it.
    public func withSocketAddress<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
