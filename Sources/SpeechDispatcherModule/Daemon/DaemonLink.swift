import SpeakdClient
import SpeakdProtocol
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// The module's connection to speakd: requests go out from whichever thread holds the module's lock, replies and
/// job events come in on a reader thread of their own, because speech-dispatcher's commands and speakd's events
/// arrive independently. (speakctl's `DaemonConnection` waits for each reply on the calling thread, which would
/// hold 701/702 back until the next command.)
///
/// Threading: `send` and `close` from one thread at a time (the module's lock serializes them); the reader thread
/// only reads the descriptor and calls `onMessage`/`onClose`.
public final class DaemonLink: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// What a speech-dispatcher user can do about a daemon that is not running (it ends the `399` message).
    static let hint = "enable it with `systemctl --user enable --now speakd.socket` (or run `speakd &`), or set SpeakdSocket in the module's speakd.conf"

    public init(path: String) throws(ClientError) {
        self.path = path
        fd = try DaemonSocket.connect(path: path, hint: Self.hint)
    }

    deinit { Glibc.close(fd) }

    /// Writes one request line. False when the connection is gone.
    public func send(id: Int, op: String, fields: [String: JSONValue] = [:]) -> Bool {
        let bytes = WireCodec.encodeRequest(id: .number(Double(id)), op: op, fields: fields)
        var offset = 0
        while offset < bytes.count {
            guard let written = try? bytes.withUnsafeBytes({ (all) throws(Errno) in
                try Syscall.send(FileDescriptor(rawValue: fd), UnsafeRawBufferPointer(rebasing: all[offset...]))
            }) else { return false }
            offset += written
        }
        return true
    }

    /// Starts the reader thread. `onMessage` gets every decoded line in order; `onClose` runs once when the daemon
    /// closes the connection (or `shutdown` is called). Throws when the thread cannot start.
    public func startReading(onMessage: @escaping @Sendable (DaemonMessage) -> Void,
                             onClose: @escaping @Sendable () -> Void) throws(ClientError) {
        let fd = self.fd
        // The thread keeps the link alive: the descriptor is closed only after the last read has returned, so its
        // number cannot be reused by a new connection while this thread still reads it.
        do throws(ThreadStartError) { try Threads.start(name: "sd_speakd-link") { [self] in
            defer { withExtendedLifetime(self) {} }
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = (try? chunk.withUnsafeMutableBytes { try FileDescriptor(rawValue: fd).read(into: $0) }) ?? -1
                if count <= 0 { break }
                buffer += chunk[0..<count]
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[..<newline]
                    if let message = DaemonMessage.decode(line) { onMessage(message) }
                    buffer.removeSubrange(...newline)
                }
            }
            onClose()
        } } catch {
            throw ClientError(error.description)
        }
    }

    /// Ends the connection in both directions; the reader thread sees end of file and finishes.
    public func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
