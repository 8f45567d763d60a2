import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// The phrase cache through the real daemon: the mock upstream counts requests, the ALSA file PCM shows exactly
/// what was played.
final class CacheTests: IntegrationTestCase {

    private var cacheDirectory: String { directory.appendingPathComponent("phrase-cache").path }
    private var capture: String { directory.appendingPathComponent("capture.raw").path }

    @discardableResult
    private func startDaemon(extra: [String] = [], cacheDirectory: String? = nil) throws -> DaemonProcess {
        if upstream == nil { upstream = try MockUpstream(["--ms-per-char", "2", "--chunks", "977,4096"], in: directory) }
        let daemon = try DaemonProcess(arguments: ["--api-base", try XCTUnwrap(upstream).baseURL,
                                                   "--device", "file:FILE=\(capture),FORMAT=raw"] + extra,
                                       in: directory, environment: ["SPEAKD_CACHE_DIR": cacheDirectory ?? self.cacheDirectory])
        self.daemon = daemon
        return daemon
    }

    private func say(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try XCTUnwrap(daemon).speakctl(["--wait"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
    }

    private func requestCount() throws -> Int { try XCTUnwrap(upstream).requests().count }

    /// What the file PCM received (nothing when the device was never opened: speakd probes it at start, which
    /// creates the file empty).
    private func captured() throws -> [Int16] {
        SinkRecorder.samples(of: (try? Data(contentsOf: URL(fileURLWithPath: capture))) ?? Data())
    }

    private func stats() throws -> CacheInfo {
        try XCTUnwrap(try XCTUnwrap(daemon).connect().request("cache", ["action": .string("stats")]).cache)
    }

    func testASecondIdenticalJobMakesNoRequestAndPlaysTheSameSamples() throws {
        try startDaemon()
        try say(["--voice", "nova", "The front door is open."])
        XCTAssertEqual(try requestCount(), 1)
        let sent = SinkRecorder.samples(of: try XCTUnwrap(upstream).requests()[0].pcm)
        let afterFirst = try captured().count
        try say(["--voice", "nova", "The front door is open."])
        XCTAssertEqual(try requestCount(), 1, "the second job asked the upstream again")
        let all = try captured()
        XCTAssertTrue(Array(all[afterFirst...]).firstIndex(ofSequence: sent[...]) != nil,
                      "the cached job did not play the upstream's exact samples")
        let info = try stats()
        XCTAssertEqual(info.hits, 1)
        XCTAssertEqual(info.misses, 1)
        XCTAssertEqual(info.entries, 1)
        // One FLAC file holds it, under the cache directory.
        let files = try FileManager.default.subpathsOfDirectory(atPath: cacheDirectory).filter { $0.hasSuffix(".flac") }
        XCTAssertEqual(files.count, 1)
    }

    func testAnyChangeInVoiceSpeedModelInstructionsOrTextMisses() throws {
        try startDaemon()
        let base = ["--voice", "nova", "--model", "gpt-4o-mini-tts", "--speed", "1.0", "--instructions", "calm"]
        try say(base + ["Kitchen light on."])
        let variants: [[String]] = [
            ["--voice", "alloy", "--model", "gpt-4o-mini-tts", "--speed", "1.0", "--instructions", "calm", "Kitchen light on."],
            ["--voice", "nova", "--model", "tts-1", "--speed", "1.0", "--instructions", "calm", "Kitchen light on."],
            ["--voice", "nova", "--model", "gpt-4o-mini-tts", "--speed", "1.5", "--instructions", "calm", "Kitchen light on."],
            ["--voice", "nova", "--model", "gpt-4o-mini-tts", "--speed", "1.0", "--instructions", "cheerful", "Kitchen light on."],
            base + ["Kitchen light off."],
        ]
        for (index, variant) in variants.enumerated() {
            try say(variant)
            XCTAssertEqual(try requestCount(), index + 2, "\(variant) hit the cache")
        }
        try say(base + ["Kitchen light on."])
        XCTAssertEqual(try requestCount(), variants.count + 1, "the original should still hit")
    }

    /// With the upstream gone, a cached phrase still plays in the upstream's voice; an uncached one falls back to
    /// the embedded engine.
    func testCachedPhrasesPlayWithTheUpstreamStopped() throws {
        try startDaemon()
        try say(["Someone is at the door."])
        upstream?.child.terminate()

        let client = try XCTUnwrap(daemon).connect()
        let cached = try client.speak("Someone is at the door.")
        var final = try finalEvent(client, cached)
        XCTAssertEqual(final.state, .finished, final.reason ?? "")
        XCTAssertEqual(final.engine, "openai", "a cached phrase is the upstream's voice, not the fallback's")
        let uncached = try client.speak("Nobody cached this one.")
        final = try finalEvent(client, uncached)
        XCTAssertEqual(final.state, .finished, final.reason ?? "")
        XCTAssertEqual(final.engine, "espeak-ng")
    }

    /// A damaged file is found on read (after a restart, so it is not served from memory), removed, counted, and
    /// the phrase is synthesized and stored again; the job plays normally.
    func testACorruptedEntryIsRepairedAndThePhraseStillPlays() throws {
        try startDaemon()
        try say(["Garage door closed."])
        _ = daemon?.stop()   // a stopping daemon finishes the entries it is writing
        let file = try XCTUnwrap(FileManager.default.subpathsOfDirectory(atPath: cacheDirectory).first { $0.hasSuffix(".flac") })
        let path = cacheDirectory + "/" + file
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))

        try startDaemon()
        try say(["Garage door closed."])
        XCTAssertEqual(try requestCount(), 2, "the damaged entry should have been synthesized again")
        let sent = SinkRecorder.samples(of: try XCTUnwrap(upstream).requests()[1].pcm)
        XCTAssertNotNil(try captured().firstIndex(ofSequence: sent[...]))
        // Stores run in the background: the job can be heard (on the unpaced file PCM) before its entry is on disk.
        let deadline = Date().addingTimeInterval(5)
        while try stats().entries != 1, Date() < deadline { usleep(20_000) }
        let info = try stats()
        XCTAssertEqual(info.repaired, 1)
        XCTAssertEqual(info.entries, 1, "the fresh synthesis was stored again")
        _ = daemon?.stop()
        try startDaemon()
        try say(["Garage door closed."])
        XCTAssertEqual(try requestCount(), 2, "the repaired entry is served from disk")
    }

    func testNoCacheAsksTheUpstreamAndStoresNothing() throws {
        try startDaemon()
        try say(["--no-cache", "Fresh every time."])
        try say(["--no-cache", "Fresh every time."])
        XCTAssertEqual(try requestCount(), 2)
        XCTAssertEqual(try stats().entries, 0)
        // And a daemon started with --no-cache has none at all.
        _ = daemon?.stop()
        try startDaemon(extra: ["--no-cache"])
        try say(["Fresh every time."])
        try say(["Fresh every time."])
        XCTAssertEqual(try requestCount(), 4)
        XCTAssertFalse(try stats().enabled)
        let result = try XCTUnwrap(daemon).speakctl(["cache", "stats"])
        XCTAssertTrue(result.stdout.contains("phrase cache: off"), result.stdout)
    }

    /// `speakctl cache warm FILE` synthesizes each line without playing it; speaking them later asks nothing;
    /// `stats` and `clear` report what they did.
    func testWarmStatsAndClearFromSpeakctl() throws {
        try startDaemon()
        let phrases = directory.appendingPathComponent("phrases.txt")
        try "Button\nLink\n\nHeading level 2\nThe washing machine has finished. Please empty it.\n"
            .write(to: phrases, atomically: true, encoding: .utf8)
        var result = try XCTUnwrap(daemon).speakctl(["cache", "warm", "--voice", "nova", phrases.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("4 synthesized, 0 already cached, 0 failed"), result.stdout)
        XCTAssertEqual(try requestCount(), 4)
        XCTAssertEqual(try captured().count, 0, "warming played something")

        result = try XCTUnwrap(daemon).speakctl(["cache", "warm", "--voice", "nova", phrases.path])
        XCTAssertTrue(result.stdout.contains("0 synthesized, 4 already cached"), result.stdout)
        try say(["--voice", "nova", "The washing machine has finished. Please empty it."])
        try say(["--voice", "nova", "Link"])
        XCTAssertEqual(try requestCount(), 4)

        result = try XCTUnwrap(daemon).speakctl(["cache", "stats"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("entries:   4"), result.stdout)
        XCTAssertTrue(result.stdout.contains("hit rate:  100% (2 hits, 0 misses)"), result.stdout)
        result = try XCTUnwrap(daemon).speakctl(["cache", "clear"])
        XCTAssertTrue(result.stdout.contains("removed 4 entries"), result.stdout)
        XCTAssertEqual(try stats().entries, 0)
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: cacheDirectory).filter { $0.hasSuffix(".flac") }, [])
    }

    /// A phrase longer than the cache keeps is reported as failed, with the reason, not counted as cached.
    func testWarmingAPhraseTooLongToCacheSaysSo() throws {
        let config = directory.appendingPathComponent("speakd.toml")
        try "[cache]\nmax_text_length = 20\n".write(to: config, atomically: true, encoding: .utf8)
        try startDaemon(extra: ["--config", config.path])
        let phrases = directory.appendingPathComponent("phrases.txt")
        try "Short one\nThis phrase is far longer than twenty characters\n".write(to: phrases, atomically: true, encoding: .utf8)
        let result = try XCTUnwrap(daemon).speakctl(["cache", "warm", phrases.path])
        XCTAssertEqual(result.status, 1, "a phrase that could not be cached must fail the command")
        XCTAssertTrue(result.stdout.contains("1 synthesized, 0 already cached, 1 failed"), result.stdout)
        XCTAssertTrue(result.stderr.contains("max_text_length = 20"), result.stderr)
        XCTAssertEqual(try requestCount(), 1, "the long phrase was requested for nothing")
    }

    /// A cache on a full disk: jobs play to the end, storing pauses with a reason `cache stats` shows.
    func testAFullDiskPausesCachingAndPlaybackGoesOn() throws {
        XCTAssertEqual(getuid(), 0, "this test mounts a tmpfs: run it as root")
        let small = directory.appendingPathComponent("small").path
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
        let mount = try Child("/bin/mount", ["-t", "tmpfs", "-o", "size=48k", "tmpfs", small]).finish()
        XCTAssertEqual(mount.status, 0, mount.stderr)
        defer { _ = try? Child("/bin/umount", ["-l", small]).finish() }
        // 30 ms per character: 2.9 s of audio, about 140 kB of FLAC (the mock's samples are noise).
        upstream = try MockUpstream(["--ms-per-char", "30"], in: directory)
        try startDaemon(cacheDirectory: small + "/cache")
        let long = "This announcement is far too long to fit into a forty-eight kilobyte cache, so storing it fails."
        try say([long])
        let sent = SinkRecorder.samples(of: try XCTUnwrap(upstream).requests()[0].pcm)
        XCTAssertNotNil(try captured().firstIndex(ofSequence: sent[...]), "the job did not play in full")
        let deadline = Date().addingTimeInterval(5)
        while try stats().storingPaused == nil, Date() < deadline { usleep(20_000) }
        let info = try stats()
        XCTAssertTrue(info.storingPaused?.contains("disk is full") == true, "\(info)")
        try say([long])
        XCTAssertEqual(try requestCount(), 2)
        let result = try XCTUnwrap(daemon).speakctl(["cache", "stats"])
        XCTAssertTrue(result.stdout.contains("storing:   paused"), result.stdout)
    }

    private func finalEvent(_ connection: DaemonConnection, _ job: String) throws -> Event {
        while true {
            let event = try connection.nextEvent()
            if event.job == job, event.state?.isFinal == true { return event }
        }
    }
}
