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

/// Storing entries, on the cache's writer queue: the FLAC file written atomically, the disk-full pause, LRU eviction
/// by bytes and the memory tier.
///
/// Threading: `write`, `evictIfNeeded` and the pause run on `writer`; `remember` is called with the state's lock held.
extension PhraseCache {

    func write(_ key: PhraseCacheKey, _ audio: AudioChunk, tags: Tags) {
        guard storingAllowed() else { return }
        let path = self.path(of: key)
        let shard = String(path[..<path.lastIndex(of: "/")!])
        if mkdir(shard, 0o700) != 0 && errno != EEXIST {
            logger.warning("cannot create a cache directory", metadata: ["path": "\(shard)", "error": "\(Errno.current.message)"])
            return
        }
        var tags = tags
        tags.extra["SPEAKD_KEY"] = key.digest
        let bytes: Int
        do {
            let file = try AtomicFile(path: path)
            let encoder = try FLACEncoder(input: audio.format,
                                          settings: FLACSettings(compressionLevel: settings.flacCompressionLevel),
                                          tags: tags, sink: file.sink)
            try audio.samples.withUnsafeBufferPointer { samples throws(EncoderError) in try encoder.encode(samples) }
            try encoder.finish()
            try file.commit()
            // The size on disk (the sink's offset is wherever libFLAC last seeked to, rewriting STREAMINFO).
            var info = stat()
            guard stat(path, &info) == 0 else { throw PhraseCacheError("the stored entry \(path) vanished") }
            bytes = Int(info.st_size)
        } catch let error as EncoderError where error.kind == .diskFull {
            pauseStoring(because: "the disk is full (\(error.message))")
            return
        } catch {
            logger.warning("could not store a cache entry", metadata: ["entry": "\(key)", "error": "\(error)"])
            return
        }
        state.withLock { state in
            if let old = state.entries[key.digest] { state.totalBytes -= old.bytes }
            state.entries[key.digest] = Entry(bytes: bytes, lastUse: state.tick())
            state.totalBytes += bytes
            state.stores += 1
            remember(key.digest, audio, in: &state)
        }
        evictIfNeeded()
    }

    func storingAllowed() -> Bool {
        let resumed = state.withLock { state -> Bool? in
            guard state.pausedUntil != nil else { return nil }
            return endPauseIfOver(&state)
        }
        guard let resumed else { return true }
        if resumed { logger.info("phrase cache: storing again (the pause is over or space came back)") }
        return resumed
    }

    /// Ends the pause when its time is up, or sooner when the file system has at least `spaceBackMargin` more free
    /// than when it filled (space was freed: storing need not wait out the whole pause). Returns whether it ended.
    func endPauseIfOver(_ state: inout State) -> Bool {
        guard let until = state.pausedUntil else { return true }
        let spaceBack = state.freeBytesAtPause.map { then in
            freeBytes().map { $0 >= then + Self.spaceBackMargin } ?? false
        } ?? false
        guard ContinuousClock.now >= until || spaceBack else { return false }
        state.pausedUntil = nil
        state.pauseReason = nil
        state.freeBytesAtPause = nil
        return true
    }

    /// Free space a full disk must regain before storing resumes early (about ten typical entries).
    static let spaceBackMargin = 1024 * 1024

    /// Bytes an unprivileged writer may still use in the cache's file system, nil when it cannot be read.
    func freeBytes() -> Int? {
        var info = statvfs()
        guard statvfs(settings.directory, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    func pauseStoring(because reason: String) {
        let free = freeBytes()
        state.withLock { state in
            state.pausedUntil = ContinuousClock.now + settings.diskFullPause
            state.pauseReason = reason
            state.freeBytesAtPause = free
        }
        logger.warning("phrase cache: storing is off for a while; playback is not affected",
                       metadata: ["reason": "\(reason)", "retry_in": "\(settings.diskFullPause)"])
    }

    /// Removes least recently used entries until the cache fits its bound.
    func evictIfNeeded() {
        let victims: [String] = state.withLock { state in
            guard state.totalBytes > settings.maximumBytes else { return [] }
            var victims: [String] = []
            for (digest, entry) in state.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                guard state.totalBytes > settings.maximumBytes else { break }
                state.entries.removeValue(forKey: digest)
                state.totalBytes -= entry.bytes
                if let audio = state.memory.removeValue(forKey: digest) { state.memoryBytes -= audio.byteCount }
                state.evictions += 1
                victims.append(digest)
            }
            return victims
        }
        for digest in victims { unlink(path(ofDigest: digest)) }
    }

    /// Keeps decoded audio in memory, dropping the least recently used beyond the memory bound.
    func remember(_ digest: String, _ audio: AudioChunk, in state: inout State) {
        guard audio.byteCount <= settings.memoryBytes / 4, state.memory[digest] == nil else { return }
        state.memory[digest] = audio
        state.memoryBytes += audio.byteCount
        while state.memoryBytes > settings.memoryBytes {
            let coldest = state.memory.keys.min { (state.entries[$0]?.lastUse ?? 0) < (state.entries[$1]?.lastUse ?? 0) }
            guard let coldest, let dropped = state.memory.removeValue(forKey: coldest) else { break }
            state.memoryBytes -= dropped.byteCount
        }
    }
}
