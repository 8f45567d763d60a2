import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a Unix-socket connection, as the kernel says (`SO_PEERCRED`): logged with every job,
/// and checked against the optional access list.
///
/// Threading: a value type; Sendable.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }

    /// Reads the credentials of `channel`'s peer; nil if the socket cannot say (not a Unix socket).
    static func of(_ channel: any Channel) async -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let credentials: KernelPeerCredentials? = try? await provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)).get()
        return credentials.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}

/// Linux's `struct ucred` (pid, uid, gid: three 32-bit fields), which Swift's Glibc module does not import (it is
/// behind `_GNU_SOURCE`).
private struct KernelPeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Which peers may talk to the daemon, when the socket's file mode is not fine-grained enough.
///
/// Threading: a value type; Sendable.
public struct PeerAccessList: Sendable, Equatable {
    public var uids: Set<UInt32>
    public var gids: Set<UInt32>

    public init(uids: Set<UInt32>, gids: Set<UInt32>) {
        self.uids = uids
        self.gids = gids
    }

    public func allows(_ peer: PeerCredentials) -> Bool {
        uids.contains(peer.uid) || gids.contains(peer.gid)
    }
}
