import Dispatch
import Logging
import SpeakdCore
import SpeakdEncoding
import SpeakdSynthesis
import SpeakdSystem
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

extension AudioChunk {
    var byteCount: Int { samples.count * 2 }
}

/// A content-addressed, size-bounded store of synthesized segments on disk, lossless (FLAC), with the most recently
/// used ones also kept decoded in memory.
///
/// - Layout: `DIRECTORY/v1/ab/abcdef….flac`, named by `PhraseCacheKey`. Each file carries its key in a
///   `SPEAKD_KEY` Vorbis comment, and FLAC's frame CRCs and STREAMINFO MD5 cover the audio: a file that is
///   truncated, damaged or foreign (another key, not FLAC) is detected on read, removed, and reported as a miss, so
///   the segment is synthesized again and stored afresh. It never plays noise.
/// - Writes are atomic (`AtomicFile`: temporary, fsync, rename) and happen on a background queue, off the job's path.
/// - Eviction is least-recently-used by bytes on disk; the order survives restarts through each file's mtime, which
///   a hit refreshes.
/// - A full disk turns storing off (lookups go on) for `Settings.diskFullPause`, with one warning, or until a
///   megabyte of space comes back; playback is never affected.
///
/// Threading: every method may be called from any thread or task. The index and counters sit behind a mutex held
/// only for bookkeeping; file reads and decoding happen outside it, and writes on one serial queue.
public final class PhraseCache: Sendable {
    public struct Settings: Sendable, Equatable {
        public var directory: String
        /// Bound on the bytes the entries take on disk.
        public var maximumBytes: Int
        /// Longer segments are not cached: a screen reader's and an announcer's phrases are short, and long texts
        /// are rarely repeated word for word.
        public var maximumTextCharacters: Int
        /// Bound on the decoded samples kept in memory for the hottest entries.
        public var memoryBytes: Int
        public var flacCompressionLevel: Int
        /// How long storing stays off after the disk filled up.
        public var diskFullPause: Duration

        public static let defaultMaximumBytes = 200 * 1024 * 1024
        public static let defaultMaximumTextCharacters = 500

        public init(directory: String, maximumBytes: Int = Settings.defaultMaximumBytes,
                    maximumTextCharacters: Int = Settings.defaultMaximumTextCharacters,
                    memoryBytes: Int = 16 * 1024 * 1024, flacCompressionLevel: Int = 5,
                    diskFullPause: Duration = .seconds(600)) {
            self.directory = directory
            self.maximumBytes = maximumBytes
            self.maximumTextCharacters = maximumTextCharacters
            self.memoryBytes = memoryBytes
            self.flacCompressionLevel = flacCompressionLevel
            self.diskFullPause = diskFullPause
        }
    }

    /// Counters since start (hits, misses …) and the store's present size.
    public struct Statistics: Sendable, Equatable {
        public var directory: String
        public var entries: Int
        public var bytes: Int
        public var maximumBytes: Int
        public var hits: Int
        public var misses: Int
        public var stores: Int
        public var evictions: Int
        /// Damaged or foreign files found and removed.
        public var repaired: Int
        /// Why storing is off right now (a full disk), if it is.
        public var storingPausedBecause: String?
    }

    public let settings: Settings
    let root: String
    let logger: Logger
    let state: Mutex<State>
    let writer = DispatchQueue(label: "speakd.phrase-cache.writer", qos: .utility)

    struct Entry {
        var bytes: Int
        var lastUse: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        var totalBytes = 0
        var clock: UInt64 = 0
        var memory: [String: AudioChunk] = [:]
        var memoryBytes = 0
        var hits = 0, misses = 0, stores = 0, evictions = 0, repaired = 0
        var pausedUntil: ContinuousClock.Instant?
        var pauseReason: String?
        /// Free bytes in the cache's file system right after it filled (see `endPauseIfOver`).
        var freeBytesAtPause: Int?

        mutating func tick() -> UInt64 {
            clock += 1
            return clock
        }
    }

    /// Opens (creating, mode 0700) the cache directory and indexes what an earlier run left there, oldest use
    /// first. Throws when the directory cannot be created.
    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        root = settings.directory + "/v1"
        for directory in [settings.directory, root] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw PhraseCacheError("cannot create the cache directory \(directory): \(Errno.current.message)")
            }
        }
        var found: [(key: String, bytes: Int, modified: Double)] = []
        for shard in (directoryEntryNames(root) ?? []) where shard.utf8.count == 2 {
            let shardPath = root + "/" + shard
            AtomicFile.removeStalePartials(in: shardPath)
            for name in (directoryEntryNames(shardPath) ?? []) {
                guard name.hasSuffix(".flac"), let key = PhraseCacheKey(digest: String(name.dropLast(5))),
                      key.digest.hasPrefix(shard) else { continue }
                var info = stat()
                guard stat(shardPath + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                found.append((key.digest, Int(info.st_size), modified))
            }
        }
        var initial = State()
        for file in found.sorted(by: { $0.modified < $1.modified }) {
            initial.entries[file.key] = Entry(bytes: file.bytes, lastUse: initial.tick())
            initial.totalBytes += file.bytes
        }
        state = Mutex(initial)
        evictIfNeeded()
    }

    /// Whether a segment of this text is cached at all.
    public func admits(_ text: String) -> Bool {
        text.unicodeScalars.count <= settings.maximumTextCharacters
    }

    /// Whether an entry is indexed (not counted as a lookup; the file is not checked).
    public func contains(_ key: PhraseCacheKey) -> Bool {
        state.withLock { $0.entries[key.digest] != nil }
    }

    /// The entry's audio, or nil on a miss. A damaged or foreign file is removed and counts as a miss.
    public func lookup(_ key: PhraseCacheKey) -> AudioChunk? {
        enum Found { case memory(AudioChunk), disk, absent }
        let found: Found = state.withLock { state in
            if let audio = state.memory[key.digest] {
                state.hits += 1
                let now = state.tick()
                state.entries[key.digest]?.lastUse = now
                return .memory(audio)
            }
            if state.entries[key.digest] == nil {
                state.misses += 1
                return .absent
            }
            return .disk
        }
        switch found {
        case .memory(let audio):
            utimensat(AT_FDCWD, path(of: key), nil, 0)   // the use order, for the next start
            return audio
        case .absent:
            return nil
        case .disk:
            break
        }
        let path = self.path(of: key)
        let audio: AudioChunk
        do {
            audio = try read(path, expecting: key)
        } catch {
            unlink(path)
            state.withLock { state in
                if let entry = state.entries.removeValue(forKey: key.digest) { state.totalBytes -= entry.bytes }
                state.misses += 1
                state.repaired += 1
            }
            logger.warning("removed a damaged cache entry; it will be synthesized again",
                           metadata: ["entry": "\(key)", "problem": "\(error)"])
            return nil
        }
        state.withLock { state in
            state.hits += 1
            guard state.entries[key.digest] != nil else { return }
            let now = state.tick()
            state.entries[key.digest]?.lastUse = now
            remember(key.digest, audio, in: &state)
        }
        // The file's mtime carries the use order across restarts.
        utimensat(AT_FDCWD, path, nil, 0)
        return audio
    }

    /// Stores a complete synthesis in the background. A store while the disk is full, or of audio larger than the
    /// whole cache, is skipped.
    public func store(_ key: PhraseCacheKey, _ audio: AudioChunk, tags: Tags) {
        guard !audio.samples.isEmpty, audio.byteCount / 2 < settings.maximumBytes, storingAllowed() else { return }
        writer.async { [self] in write(key, audio, tags: tags) }
    }

    /// Returns once every store asked for so far is on disk (or has failed).
    public func waitForPendingStores() {
        writer.sync {}
    }

    /// Removes every entry. Returns how many there were and the bytes they took. Also lifts a disk-full pause.
    @discardableResult
    public func clear() -> (entries: Int, bytes: Int) {
        waitForPendingStores()
        let removed = state.withLock { state in
            let keys = Array(state.entries.keys)
            let bytes = state.totalBytes
            state.entries = [:]
            state.totalBytes = 0
            state.memory = [:]
            state.memoryBytes = 0
            state.pausedUntil = nil
            state.pauseReason = nil
            state.freeBytesAtPause = nil
            return (keys, bytes)
        }
        for digest in removed.0 { unlink(path(ofDigest: digest)) }
        return (removed.0.count, removed.1)
    }

    public func statistics() -> Statistics {
        state.withLock { state in
            let paused = !endPauseIfOver(&state)
            return Statistics(directory: settings.directory, entries: state.entries.count, bytes: state.totalBytes,
                              maximumBytes: settings.maximumBytes, hits: state.hits, misses: state.misses,
                              stores: state.stores, evictions: state.evictions, repaired: state.repaired,
                              storingPausedBecause: paused ? state.pauseReason : nil)
        }
    }

    // MARK: files

    func path(of key: PhraseCacheKey) -> String { path(ofDigest: key.digest) }

    func path(ofDigest digest: String) -> String {
        root + "/" + digest.prefix(2) + "/" + digest + ".flac"
    }

    private func read(_ path: String, expecting key: PhraseCacheKey) throws -> AudioChunk {
        let decoded = try PhraseCacheEntry.decode(try Self.readFile(path), expectingDigest: key.digest)
        return AudioChunk(format: decoded.format, samples: decoded.samples)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let file: FileDescriptor
        do { file = try FileDescriptor.open(path, .readOnly, options: .closeOnExec) } catch {
            throw PhraseCacheError("cannot open \(path): \(Errno.message(of: error))")
        }
        return try file.closeAfter {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count: Int
                do { count = try chunk.withUnsafeMutableBytes { try file.read(into: $0) } } catch {
                    throw PhraseCacheError("cannot read \(path): \(Errno.message(of: error))")
                }
                if count == 0 { return bytes }
                bytes += chunk[0..<count]
            }
        }
    }

}
