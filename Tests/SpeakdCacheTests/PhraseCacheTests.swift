import Foundation
import XCTest
import SpeakdCore
import SpeakdEncoding
import SpeakdSynthesis
@testable import SpeakdCache

final class PhraseCacheTests: XCTestCase {
    private func key(_ text: String) -> PhraseCacheKey {
        PhraseCacheKey(upstream: "http://127.0.0.1/v1", sampleRateOverride: nil, request: Speech.request(text))
    }

    func testAStoredEntryComesBackSampleExactFromDiskAndFromMemory() throws {
        let directory = try CacheDirectory()
        let audio = AudioChunk(format: PCMFormat(sampleRate: 22_050), samples: Speech.samples(seconds: 1.5, rate: 22_050))
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        XCTAssertNil(cache.lookup(key("Hello")))
        cache.store(key("Hello"), audio, tags: Tags(text: "Hello", voice: "nova"))
        cache.waitForPendingStores()
        XCTAssertEqual(cache.lookup(key("Hello")), audio)          // from memory
        XCTAssertEqual(directory.entryFiles().count, 1)

        let reopened = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        XCTAssertEqual(reopened.lookup(key("Hello")), audio)       // decoded from the FLAC file
        let stats = reopened.statistics()
        XCTAssertEqual(stats.entries, 1)
        XCTAssertEqual(stats.hits, 1)
        XCTAssertEqual(stats.misses, 0)
        XCTAssertEqual(stats.bytes, try FileManager.default.attributesOfItem(atPath: directory.filePath(of: key("Hello")))[.size] as? Int)
        // The file is an ordinary FLAC file that says what it holds.
        let decoded = try FLACDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: directory.filePath(of: key("Hello"))))))
        XCTAssertEqual(decoded.tags["TITLE"], "Hello")
        XCTAssertEqual(decoded.tags["SPEAKD_KEY"], key("Hello").digest)
    }

    /// The bound holds after every store, and the least recently used entry goes first (a lookup counts as use).
    func testEvictionKeepsTheBoundAndDropsTheLeastRecentlyUsed() throws {
        let directory = try CacheDirectory()
        let one = AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: 1))
        let cache = try PhraseCache(settings: .init(directory: directory.path, maximumBytes: 1), logger: .test)
        // Measure one entry's size, then allow three and a half.
        cache.store(key("probe"), one, tags: Tags())
        cache.waitForPendingStores()
        cache.clear()
        cache.store(key("probe"), one, tags: Tags())
        cache.waitForPendingStores()
        XCTAssertEqual(cache.statistics().entries, 0, "an entry larger than the whole cache is not kept")

        let size = try measureEntrySize(one)
        let bounded = try PhraseCache(settings: .init(directory: directory.path, maximumBytes: size * 7 / 2), logger: .test)
        for (index, text) in ["first", "second", "third"].enumerated() {
            bounded.store(key(text), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: index)), tags: Tags())
            bounded.waitForPendingStores()
        }
        XCTAssertEqual(bounded.statistics().entries, 3)
        XCTAssertNotNil(bounded.lookup(key("first")))             // "second" is now the least recently used
        bounded.store(key("fourth"), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: 9)), tags: Tags())
        bounded.waitForPendingStores()
        let stats = bounded.statistics()
        XCTAssertEqual(stats.entries, 3)
        XCTAssertEqual(stats.evictions, 1)
        XCTAssertLessThanOrEqual(stats.bytes, size * 7 / 2)
        XCTAssertTrue(bounded.lookup(key("second")) == nil)
        XCTAssertNotNil(bounded.lookup(key("first")))
        XCTAssertNotNil(bounded.lookup(key("third")))
        XCTAssertNotNil(bounded.lookup(key("fourth")))
        XCTAssertEqual(directory.entryFiles().count, 3)
    }

    /// The use order survives a restart (file times), so the next eviction still picks the right entry.
    func testUseOrderSurvivesARestart() throws {
        let directory = try CacheDirectory()
        let size = try measureEntrySize(AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1)))
        let settings = PhraseCache.Settings(directory: directory.path, maximumBytes: size * 5 / 2)
        do {
            let cache = try PhraseCache(settings: settings, logger: .test)
            for (index, text) in ["old", "new"].enumerated() {
                cache.store(key(text), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: index)), tags: Tags())
                cache.waitForPendingStores()
                usleep(20_000)
            }
            usleep(20_000)
            XCTAssertNotNil(cache.lookup(key("old")))   // "new" becomes the oldest use
        }
        let reopened = try PhraseCache(settings: settings, logger: .test)
        reopened.store(key("newest"), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: 7)), tags: Tags())
        reopened.waitForPendingStores()
        XCTAssertNotNil(reopened.lookup(key("old")))
        XCTAssertTrue(reopened.lookup(key("new")) == nil)
    }

    /// Truncated, bit-flipped, foreign (another entry's file) and not-FLAC files are each detected on read,
    /// removed, reported as a miss, and can be stored again.
    func testDamagedAndForeignFilesAreDetectedRemovedAndReplaced() throws {
        let directory = try CacheDirectory()
        let audio = AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 2))
        let settings = PhraseCache.Settings(directory: directory.path)
        let damages: [(String, (inout [UInt8], [UInt8]) -> Void)] = [
            ("truncated", { bytes, _ in bytes.removeLast(bytes.count / 3) }),
            ("flipped", { bytes, _ in bytes[bytes.count * 2 / 3] ^= 0x5A }),
            ("foreign", { bytes, other in bytes = other }),
            ("not FLAC", { bytes, _ in bytes = Array("RIFF....WAVEfmt not audio at all".utf8) }),
            ("empty", { bytes, _ in bytes = [] }),
        ]
        let seeding = try PhraseCache(settings: settings, logger: .test)
        seeding.store(key("other"), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1, seed: 3)), tags: Tags())
        seeding.waitForPendingStores()
        let other = Array(try Data(contentsOf: URL(fileURLWithPath: directory.filePath(of: key("other")))))
        for (name, damage) in damages {
            let writer = try PhraseCache(settings: settings, logger: .test)
            writer.store(key("victim"), audio, tags: Tags())
            writer.waitForPendingStores()
            let path = directory.filePath(of: key("victim"))
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            damage(&bytes, other)
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let reader = try PhraseCache(settings: settings, logger: .test)   // nothing in memory: reads the file
            XCTAssertNil(reader.lookup(key("victim")), name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(name): the damaged file was not removed")
            XCTAssertEqual(reader.statistics().repaired, 1, name)
            reader.store(key("victim"), audio, tags: Tags())
            reader.waitForPendingStores()
            XCTAssertEqual(try PhraseCache(settings: settings, logger: .test).lookup(key("victim")), audio, name)
        }
        XCTAssertEqual(try PhraseCache(settings: settings, logger: .test).lookup(key("other"))?.samples.count, 24_000)
    }

    /// On a full disk storing pauses with a reason, lookups keep working, nothing partial is left, and a clear
    /// lifts the pause.
    func testAFullDiskPausesStoringAndLeavesNoPartialFile() throws {
        XCTAssertEqual(getuid(), 0, "this test mounts a tmpfs: run it as root")
        let directory = try CacheDirectory()
        let mountPoint = directory.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let mount = try Subprocess("/bin/mount", ["-t", "tmpfs", "-o", "size=96k", "tmpfs", mountPoint]).finish()
        XCTAssertEqual(mount.status, 0, mount.stderr)
        defer { _ = try? Subprocess("/bin/umount", [mountPoint]).finish() }

        let cache = try PhraseCache(settings: .init(directory: mountPoint + "/cache"), logger: .test)
        let small = AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 0.3))
        cache.store(key("fits"), small, tags: Tags())
        cache.waitForPendingStores()
        XCTAssertEqual(cache.statistics().entries, 1)
        cache.store(key("too big"), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 10, seed: 5)), tags: Tags())
        cache.waitForPendingStores()
        let stats = cache.statistics()
        XCTAssertEqual(stats.entries, 1)
        XCTAssertNotNil(stats.storingPausedBecause)
        XCTAssertTrue(stats.storingPausedBecause?.contains("disk is full") == true, stats.storingPausedBecause ?? "")
        XCTAssertEqual(cache.lookup(key("fits")), small)
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: mountPoint).filter { $0.hasSuffix(".partial") }
        XCTAssertEqual(leftovers, [])
        cache.clear()
        XCTAssertNil(cache.statistics().storingPausedBecause)
    }

    /// Storing resumes as soon as space comes back (a filler file removed), not after the whole pause.
    func testStoringResumesWhenSpaceComesBack() throws {
        XCTAssertEqual(getuid(), 0, "this test mounts a tmpfs: run it as root")
        let directory = try CacheDirectory()
        let mountPoint = directory.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let mount = try Subprocess("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]).finish()
        XCTAssertEqual(mount.status, 0, mount.stderr)
        defer { _ = try? Subprocess("/bin/umount", [mountPoint]).finish() }

        let cache = try PhraseCache(settings: .init(directory: mountPoint + "/cache"), logger: .test)
        // Fill the file system to the last byte.
        let filler = mountPoint + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let block = [UInt8](repeating: 0x55, count: 64 * 1024)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)
        let audio = AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 1))
        cache.store(key("while full"), audio, tags: Tags())
        cache.waitForPendingStores()
        XCTAssertNotNil(cache.statistics().storingPausedBecause, "a full disk pauses storing")
        cache.store(key("still full"), audio, tags: Tags())
        cache.waitForPendingStores()
        XCTAssertEqual(cache.statistics().entries, 0)

        XCTAssertEqual(unlink(filler), 0)
        XCTAssertNil(cache.statistics().storingPausedBecause, "space is back: no longer paused")
        cache.store(key("space is back"), audio, tags: Tags())
        cache.waitForPendingStores()
        XCTAssertEqual(cache.statistics().entries, 1)
        XCTAssertEqual(cache.lookup(key("space is back")), audio)
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: mountPoint).filter { $0.hasSuffix(".partial") }
        XCTAssertEqual(leftovers, [])
    }

    func testClearRemovesEveryEntry() throws {
        let directory = try CacheDirectory()
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        for text in ["a", "b", "c"] {
            cache.store(key(text), AudioChunk(format: .openAISpeech, samples: Speech.samples(seconds: 0.2)), tags: Tags())
        }
        let removed = cache.clear()
        XCTAssertEqual(removed.entries, 3)
        XCTAssertGreaterThan(removed.bytes, 0)
        XCTAssertEqual(directory.entryFiles(), [])
        XCTAssertNil(cache.lookup(key("a")))
        XCTAssertEqual(cache.statistics().entries, 0)
    }

    private func measureEntrySize(_ audio: AudioChunk) throws -> Int {
        let directory = try CacheDirectory()
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        cache.store(key("measure"), audio, tags: Tags())
        cache.waitForPendingStores()
        return cache.statistics().bytes
    }
}
