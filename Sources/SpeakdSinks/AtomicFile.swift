#if canImport(Glibc)
import Glibc
#endif

/// A file that appears under its final name only once complete: written to a temporary name in the same directory
/// (`.NAME.XXXXXX.partial`), then `commit()` fsyncs it, renames it over the final name and fsyncs the directory.
/// A crash at any point leaves either no file or the whole file under the final name, plus at most a temporary that
/// `removeStalePartials(in:)` cleans up at the next start.
///
/// The temporary is created with mode 0666 minus the process umask, like any new file (no umask games, which would
/// race with other threads). Errors name the final path ("disk full while writing /x/y.flac").
///
/// Threading: one thread or task at a time, like the encoder writing into `sink`. `removeStalePartials` may be called
/// from any thread.
public final class AtomicFile {
    /// The path the file will have once committed.
    public let path: String
    /// The temporary file's path while writing.
    public let temporaryPath: String
    /// Where the encoder writes: the temporary file, seekable, named after the final path in errors.
    public let sink: FileDescriptorSink
    private var state = State.writing

    private enum State { case writing, committed, discarded }

    static let temporarySuffix = ".partial"

    /// Creates the temporary file next to `path`. Throws when the directory is missing or not writable.
    public init(path: String) throws(EncoderError) {
        let (directory, name) = Self.split(path)
        var attempts = 0
        while true {
            let candidate = directory + "/." + name + "." + Self.randomTag() + Self.temporarySuffix
            let descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor >= 0 {
                self.path = path
                self.temporaryPath = candidate
                self.sink = FileDescriptorSink(descriptor: descriptor, name: path, ownsDescriptor: true)
                return
            }
            let code = errno
            attempts += 1
            guard code == EEXIST, attempts < 100 else {
                throw EncoderError.system("creating a temporary file for", path: path, errno: code)
            }
        }
    }

    deinit {
        if state == .writing { discard() }
    }

    /// Makes the file appear under `path`: fsync, close, rename (replacing an existing file), fsync the directory.
    /// On failure the temporary is removed and nothing appears under `path`.
    public func commit() throws(EncoderError) {
        guard state == .writing else { throw EncoderError(.misuse, "\(path) was already committed or discarded") }
        do throws(EncoderError) {
            try sink.sync()
            try sink.close()
            if rename(temporaryPath, path) != 0 {
                throw EncoderError.system("renaming the finished file to", path: path, errno: errno)
            }
        } catch {
            discard()
            throw error
        }
        state = .committed
        // The rename is durable only once the directory is: without this, a power cut could bring back the old
        // directory entry after we reported success.
        let directory = open(Self.split(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw EncoderError.system("opening the directory of", path: path, errno: errno) }
        defer { close(directory) }
        if fsync(directory) != 0 { throw EncoderError.system("syncing the directory of", path: path, errno: errno) }
    }

    /// Abandons the file: closes and removes the temporary. Safe to call more than once; never throws (it runs on
    /// paths that are already failing).
    public func discard() {
        guard state == .writing else { return }
        state = .discarded
        sink.abandon()
        unlink(temporaryPath)
    }

    /// Removes the temporaries (`.NAME.XXXXXX.partial`) an earlier process left in `directory` when it died while
    /// writing. Only files at least `minimumAge` seconds old are removed, so a writer in another process that is
    /// still running keeps its file (0 removes all: right at a daemon's start when it is the directory's only
    /// writer). Returns the paths removed; errors (a missing directory) remove nothing.
    @discardableResult
    public static func removeStalePartials(in directory: String, minimumAge: Int = 0) -> [String] {
        guard let names = directoryEntryNames(directory) else { return [] }
        let now = time(nil)
        var removed: [String] = []
        for name in names {
            guard isTemporaryName(name) else { continue }
            let full = directory + "/" + name
            var info = stat()
            guard lstat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
                  Int(now - info.st_mtim.tv_sec) >= minimumAge else { continue }
            if unlink(full) == 0 { removed.append(full) }
        }
        return removed
    }

    /// `.NAME.XXXXXX.partial` with a six-character random tag: what `init` creates, and nothing else.
    static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(temporarySuffix) else { return false }
        let stem = name.dropFirst().dropLast(temporarySuffix.count)
        guard let dot = stem.lastIndex(of: "."), dot > stem.startIndex else { return false }
        let tag = stem[stem.index(after: dot)...]
        return tag.count == 6 && tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    private static func randomTag() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<6).map { _ in alphabet.randomElement()! })
    }

    /// The directory ("." for a bare name) and the last component of `path`.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
