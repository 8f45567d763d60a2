import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// A sink over a file descriptor: a regular file (seekable), or a pipe or socket (not seekable), e.g. a descriptor a
/// client passed over the control socket.
///
/// Small writes are gathered into a 64 KiB buffer (encoders emit a frame or a page at a time, and one write(2) per
/// FLAC frame made encoding 15 % slower than the flac tool); bytes reach the descriptor when the buffer fills, on
/// `seek`, `flush`, `sync` and `close`, and at the latest when an encoder's `finish` flushes. Writes loop over partial
/// writes and EINTR; ENOSPC/EDQUOT become `.diskFull` errors naming the file (possibly only at the flush).
/// The descriptor is closed by `close()` or at deinit only when `ownsDescriptor` is true; bytes still buffered at
/// deinit are dropped (only an abandoned stream gets there: `finish` flushes).
///
/// Threading: not thread-safe; one owner at a time (see `EncodedSink`).
public final class FileDescriptorSink: EncodedSink {
    public let descriptor: Int32
    public let name: String
    public let isSeekable: Bool
    /// The logical write position: where the descriptor is plus what waits in `pending`.
    public var offset: Int { position + pending.count }
    private var position: Int
    private var pending: [UInt8] = []
    private let ownsDescriptor: Bool
    private var closed = false

    static let bufferCapacity = 1 << 16

    /// `name` is what error messages call the destination (the final path of an archive, not its temporary name).
    public init(descriptor: Int32, name: String? = nil, ownsDescriptor: Bool = false) {
        self.descriptor = descriptor
        self.name = name ?? "fd \(descriptor)"
        self.ownsDescriptor = ownsDescriptor
        pending.reserveCapacity(Self.bufferCapacity)
        // Only regular files count as seekable: lseek "succeeds" on some character devices where patching a header
        // would be meaningless.
        var info = stat()
        let start = lseek(descriptor, 0, SEEK_CUR)
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, start >= 0 {
            isSeekable = true
            position = Int(start)
        } else {
            isSeekable = false
            position = 0
        }
    }

    deinit {
        // A sink dropped without close() is being abandoned (an error path): its buffered bytes are not wanted.
        if ownsDescriptor && !closed { _ = Glibc.close(descriptor) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(EncoderError) {
        guard !closed else { throw EncoderError(.misuse, "write to \(name) after it was closed") }
        if pending.count + bytes.count > Self.bufferCapacity { try flush() }
        if bytes.count >= Self.bufferCapacity {
            try writeAll(bytes)
        } else {
            pending.append(contentsOf: bytes)
        }
    }

    public func seek(to target: Int) throws(EncoderError) {
        guard isSeekable else { throw EncoderError(.misuse, "\(name) cannot seek") }
        try flush()
        if lseek(descriptor, off_t(target), SEEK_SET) < 0 {
            throw EncoderError.system("seeking in", path: name, errno: errno)
        }
        position = target
    }

    public func flush() throws(EncoderError) {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        try pending.withUnsafeBufferPointer { (buffer) throws(EncoderError) in
            try writeAll(UnsafeRawBufferPointer(buffer))
        }
    }

    /// Flushes, then makes the file's data and metadata durable (fsync); a delayed ENOSPC shows up here.
    public func sync() throws(EncoderError) {
        try flush()
        if fsync(descriptor) != 0 {
            let code = errno
            // Pipes and sockets cannot be synced; that is not a failure of the archive.
            if code == EINVAL || code == EROFS { return }
            throw EncoderError.system("syncing", path: name, errno: code)
        }
    }

    /// Flushes and closes an owned descriptor, reporting the error close(2) may carry (NFS reports write-back
    /// failures there). The descriptor is closed even when the flush fails.
    public func close() throws(EncoderError) {
        guard ownsDescriptor, !closed else { return }
        var failure: EncoderError?
        do throws(EncoderError) { try flush() } catch { failure = error }
        closed = true
        if Glibc.close(descriptor) != 0, failure == nil {
            failure = EncoderError.system("closing", path: name, errno: errno)
        }
        if let failure { throw failure }
    }

    /// Closes an owned descriptor, dropping buffered bytes: for files being discarded.
    func abandon() {
        pending.removeAll()
        if ownsDescriptor && !closed {
            closed = true
            _ = Glibc.close(descriptor)
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(EncoderError) {
        // writeAll retries EINTR and short writes.
        do { _ = try FileDescriptor(rawValue: descriptor).writeAll(bytes) } catch {
            throw EncoderError.system("writing", path: name, errno: (error as? Errno)?.rawValue ?? EIO)
        }
        position += bytes.count
    }
}
