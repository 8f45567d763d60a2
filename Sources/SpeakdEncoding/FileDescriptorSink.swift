#if canImport(Glibc)
import Glibc
#endif

/// A sink over a file descriptor: a regular file (seekable), or a pipe or socket (not seekable), e.g. a descriptor a
/// client passed over the control socket.
///
/// Writes loop over partial writes and EINTR; ENOSPC/EDQUOT become `.diskFull` errors naming the file.
/// The descriptor is closed by `close()` or at deinit only when `ownsDescriptor` is true.
///
/// Threading: not thread-safe; one owner at a time (see `EncodedSink`).
public final class FileDescriptorSink: EncodedSink {
    public let descriptor: Int32
    public let name: String
    public let isSeekable: Bool
    public private(set) var offset: Int
    private let ownsDescriptor: Bool
    private var closed = false

    /// `name` is what error messages call the destination (the final path of an archive, not its temporary name).
    public init(descriptor: Int32, name: String? = nil, ownsDescriptor: Bool = false) {
        self.descriptor = descriptor
        self.name = name ?? "fd \(descriptor)"
        self.ownsDescriptor = ownsDescriptor
        // Only regular files count as seekable: lseek "succeeds" on some character devices where pwrite-style
        // patching would be meaningless.
        var info = stat()
        let position = lseek(descriptor, 0, SEEK_CUR)
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, position >= 0 {
            isSeekable = true
            offset = Int(position)
        } else {
            isSeekable = false
            offset = 0
        }
    }

    deinit {
        if ownsDescriptor && !closed { _ = Glibc.close(descriptor) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(EncoderError) {
        guard !closed else { throw EncoderError(.misuse, "write to \(name) after it was closed") }
        var done = 0
        while done < bytes.count {
            let result = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                throw EncoderError.system("writing", path: name, errno: code)
            }
            done += result
        }
        offset += done
    }

    public func seek(to position: Int) throws(EncoderError) {
        guard isSeekable else { throw EncoderError(.misuse, "\(name) cannot seek") }
        if lseek(descriptor, off_t(position), SEEK_SET) < 0 {
            throw EncoderError.system("seeking in", path: name, errno: errno)
        }
        offset = position
    }

    /// Flushes the file's data and metadata to the device (fsync); a delayed ENOSPC shows up here.
    public func sync() throws(EncoderError) {
        if fsync(descriptor) != 0 {
            let code = errno
            // Pipes and sockets cannot be synced; that is not a failure of the archive.
            if code == EINVAL || code == EROFS { return }
            throw EncoderError.system("syncing", path: name, errno: code)
        }
    }

    /// Closes an owned descriptor, reporting the error close(2) may carry (NFS reports write-back failures here).
    public func close() throws(EncoderError) {
        guard ownsDescriptor, !closed else { return }
        closed = true
        if Glibc.close(descriptor) != 0 {
            throw EncoderError.system("closing", path: name, errno: errno)
        }
    }
}
