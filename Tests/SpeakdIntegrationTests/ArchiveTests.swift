import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Issue 6, stage 2: the encoders wired into the daemon (the archive directory) and into speakctl (`--save`), against
/// the real daemon and the mock upstream; decoded back with independent tools (`flac -d`, ffmpeg, ffprobe).
final class ArchiveTests: IntegrationTestCase {

    private func startDaemon(device: String? = nil, mock: [String] = [], arguments: [String] = [])
        throws -> (DaemonProcess, MockUpstream, capture: String) {
        let upstream = try MockUpstream(["--ms-per-char", "20"] + mock, in: directory)
        self.upstream = upstream
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL,
                                                   "--device", device ?? "file:FILE=\(capture),FORMAT=raw"] + arguments,
                                       in: directory)
        return (daemon, upstream, capture)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func sentPCM(_ upstream: MockUpstream) throws -> Data {
        try upstream.requests().reduce(Data()) { $0 + $1.pcm }
    }

    /// Runs a tool; returns its stdout (failing the test when it fails).
    @discardableResult
    private func run(_ tool: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try Child(tool, arguments).finish()
        XCTAssertEqual(result.status, 0, "\(tool) \(arguments): \(result.stderr)", file: file, line: line)
        return result.stdout
    }

    private func flacDecoded(_ file: String) throws -> Data {
        let raw = path("decoded.raw")
        try run("/usr/bin/flac", ["-d", "-s", "-f", "--force-raw-format", "--endian=little", "--sign=signed", "-o", raw, file])
        return try Data(contentsOf: URL(fileURLWithPath: raw))
    }

    private func probe(_ file: String) throws -> [String: Any] {
        let json = try run("/usr/bin/ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file])
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    private func duration(_ file: String) throws -> Double {
        // Decoding the whole file counts what a player would play, whatever the container's header claims.
        let raw = path("decoded-\(UUID().uuidString.prefix(6)).raw")
        try run("/usr/bin/ffmpeg", ["-v", "error", "-y", "-i", file, "-f", "s16le", "-ac", "1", "-ar", "24000", raw])
        return Double(try Data(contentsOf: URL(fileURLWithPath: raw)).count / 2) / 24_000
    }

    private func files(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    // MARK: speakctl --save

    func testSaveFLACWithoutPlayingIsTheUpstreamPCMAndNeverTouchesTheDevice() throws {
        let (daemon, upstream, capture) = try startDaemon()
        let saved = path("greeting.flac")
        let result = try daemon.speakctl(["--save", saved, "--no-play", "Saved, not played. Every sample counts."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let sent = try sentPCM(upstream)
        XCTAssertGreaterThan(sent.count, 10_000)
        XCTAssertEqual(try flacDecoded(saved), sent, "flac -d differs from what the upstream sent")
        let size = (try? FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int) ?? 0
        XCTAssertEqual(size, 0, "a --no-play job reached the audio device")
        XCTAssertEqual(try files(in: directory.path).filter { $0.hasSuffix(".partial") }, [])
    }

    /// Ctrl-C while speakctl is still receiving: no final file and no temporary are left, exit status 130.
    func testInterruptingASaveLeavesNoFile() throws {
        let (daemon, _, _) = try startDaemon(mock: ["--chunks", "4800", "--chunk-delay", "0.1"])
        let saved = path("interrupted.flac")
        let speakctl = try Subprocess(Harness.binDirectory.appendingPathComponent("speakctl").path,
                                      ["--save", saved, "--no-play", "This takes a while to arrive, chunk by slow chunk."],
                                      environment: ["SPEAKD_SOCKET": daemon.socketPath])
        let deadline = Date().addingTimeInterval(10)
        while try files(in: directory.path).filter({ $0.hasSuffix(".partial") }).isEmpty, Date() < deadline { usleep(5_000) }
        XCTAssertFalse(try files(in: directory.path).filter { $0.hasSuffix(".partial") }.isEmpty, "no temporary appeared")
        usleep(200_000)
        XCTAssertTrue(speakctl.isRunning, "speakctl ended before it could be interrupted")
        speakctl.signal(SIGINT)
        let result = speakctl.finish()
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(try files(in: directory.path).filter { $0.hasSuffix(".partial") || $0.hasPrefix("interrupted") }, [])
    }

    func testSaveWAVWhilePlayingMatchesTheDeviceAndTheUpstream() throws {
        let (daemon, upstream, capture) = try startDaemon(mock: ["--chunks", "1,3,4097"])
        let saved = path("heard.wav")
        let result = try daemon.speakctl(["--save", saved, "Played and saved at the same time."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let sent = try sentPCM(upstream)
        let wav = try Data(contentsOf: URL(fileURLWithPath: saved))
        XCTAssertEqual(wav.count, 44 + sent.count)
        XCTAssertEqual(wav.dropFirst(44), sent, "the WAV's samples differ from what the upstream sent")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)), sent, "what ALSA was given differs")
        // The RIFF sizes were patched (offset events) and the header says 24 kHz mono.
        let header = [UInt8](wav.prefix(44))
        func le32(_ at: Int) -> Int { Int(header[at]) | Int(header[at + 1]) << 8 | Int(header[at + 2]) << 16 | Int(header[at + 3]) << 24 }
        XCTAssertEqual(le32(4), wav.count - 8)
        XCTAssertEqual(le32(40), sent.count)
        XCTAssertEqual(le32(24), 24_000)
    }

    func testSavedMP3AndOpusDecodeToTheRightDuration() throws {
        let (daemon, upstream, _) = try startDaemon()
        for (name, frame) in [("speech.mp3", 1152.0 / 24_000), ("speech.opus", 0.020)] {
            let saved = path(name)
            let before = try sentPCM(upstream).count
            let result = try daemon.speakctl(["--save", saved, "--no-play", "A lossy copy of a short sentence, \(name)."])
            XCTAssertEqual(result.status, 0, result.stderr)
            let seconds = Double(try sentPCM(upstream).count - before) / 2 / 24_000
            XCTAssertEqual(try duration(saved), seconds, accuracy: frame, name)
            let format = try XCTUnwrap(try probe(saved)["format"] as? [String: Any])
            let tags = (format["tags"] as? [String: String]) ?? [:]
            let streamTags = ((try probe(saved)["streams"] as? [[String: Any]])?.first?["tags"] as? [String: String]) ?? [:]
            let title = tags.first { $0.key.lowercased() == "title" }?.value ?? streamTags.first { $0.key.lowercased() == "title" }?.value
            XCTAssertEqual(title, "A lossy copy of a short sentence, \(name).", name)
        }
    }

    func testSaveFailsWithoutLeavingAFileWhenTheJobFails() throws {
        let (daemon, _, _) = try startDaemon(mock: ["--status", "500"])
        let saved = path("never.flac")
        let result = try daemon.speakctl(["--save", saved, "--no-play", "This will fail upstream."])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("not written"), result.stderr)
        XCTAssertEqual(try files(in: directory.path).filter { $0.contains("never") }, [])
    }

    func testTwentyTwoKilohertzUpstreamKeepsItsSpeedInTheSavedFile() throws {
        let (daemon, upstream, _) = try startDaemon(mock: ["--rate", "22050", "--content-type-rate", "22050"])
        let saved = path("slow.flac")
        let result = try daemon.speakctl(["--save", saved, "--no-play", "Twenty-two kilohertz from the upstream."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let sent = try sentPCM(upstream)
        XCTAssertEqual(try flacDecoded(saved), sent)
        let stream = try XCTUnwrap((try probe(saved)["streams"] as? [[String: Any]])?.first)
        XCTAssertEqual(stream["sample_rate"] as? String, "22050")
        let seconds = Double(try XCTUnwrap(stream["duration"] as? String)) ?? 0
        XCTAssertEqual(seconds, Double(sent.count / 2) / 22_050, accuracy: 0.001)
    }

    // MARK: the daemon's archive

    func testArchiveKeepsOneTaggedFilePerFinishedJob() throws {
        let archive = path("archive")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        // Slow chunks, so that the fourth job is still being synthesized when it is cancelled (the file device
        // plays faster than real time).
        let (daemon, _, _) = try startDaemon(mock: ["--chunk-delay", "0.05"],
                                             arguments: ["--archive-dir", archive, "--archive-format", "flac",
                                                         "--archive-name", "{job}-{slug}"])
        XCTAssertEqual(try daemon.speakctl(["--wait", "--voice", "nova", "Front door, opened!"]).status, 0)
        XCTAssertEqual(try daemon.speakctl(["--wait", "--no-archive", "Not kept."]).status, 0)
        XCTAssertEqual(try daemon.speakctl(["--wait", "Élan vital 2 go"]).status, 0)
        let connection = try daemon.connect()
        let cancelled = try connection.speak(String(repeating: "Cancel me soon. ", count: 20))
        usleep(300_000)
        _ = try connection.request("cancel", ["job": .string(cancelled)])
        // The archive event follows the job's final one.
        var names: [String] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            names = try files(in: archive)
            if names.count >= 2 { break }
            usleep(20_000)
        }
        usleep(300_000)
        names = try files(in: archive)
        XCTAssertEqual(names, ["1-front-door-opened.flac", "3-lan-vital-2-go.flac"])
        let tags = try XCTUnwrap((try probe(archive + "/1-front-door-opened.flac")["format"] as? [String: Any])?["tags"] as? [String: String])
        let lowered = Dictionary(uniqueKeysWithValues: tags.map { ($0.key.lowercased(), $0.value) })
        XCTAssertEqual(lowered["title"], "Front door, opened!")
        XCTAssertEqual(lowered["voice"], "nova")
        XCTAssertEqual(lowered["engine"], "openai")
        XCTAssertEqual(lowered["model"], "tts-1")
        XCTAssertNotNil(lowered["date"])
    }

    func testArchiveEventsReachTheOwner() throws {
        let archive = path("archive")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let (daemon, _, _) = try startDaemon(arguments: ["--archive-dir", archive, "--archive-format", "mp3"])
        let connection = try daemon.connect()
        let job = try connection.speak("An archived announcement.")
        let events = try collect(connection, job: job)
        XCTAssertEqual(events.first { $0.event == .job && $0.state?.isFinal == true }?.state, .finished)
        let archived = try XCTUnwrap(events.first { $0.event == .archive })
        XCTAssertEqual(archived.state, .saved)
        let saved = try XCTUnwrap(archived.path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: saved))
        XCTAssertTrue(saved.hasSuffix("-1-an-archived-announcement.mp3"), saved)
    }

    /// Reads `job`'s events (all kinds) until it has its final job event and an archive event.
    private func collect(_ connection: DaemonConnection, job: String, timeout: TimeInterval = 20) throws -> [Event] {
        var events: [Event] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let event = try connection.nextAnyEvent()
            guard event.job == job else { continue }
            events.append(event)
            if events.contains(where: { $0.event == .job && $0.state?.isFinal == true }),
               events.contains(where: { $0.event == .archive }) { break }
        }
        return events
    }

    func testKillDuringAnArchiveLeavesNoFinalFileAndTheNextStartRemovesThePartial() throws {
        let archive = path("archive")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let (daemon, _, _) = try startDaemon(mock: ["--chunk-delay", "0.2"],
                                             arguments: ["--archive-dir", archive, "--archive-format", "flac"])
        let connection = try daemon.connect()
        _ = try connection.speak(String(repeating: "A slow announcement that is still being archived. ", count: 10))
        var partials: [String] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, partials.isEmpty {
            partials = try files(in: archive).filter { $0.hasSuffix(".partial") }
            usleep(20_000)
        }
        XCTAssertEqual(partials.count, 1)
        usleep(500_000)
        kill(daemon.child.process.processIdentifier, SIGKILL)
        daemon.child.process.waitUntilExit()
        XCTAssertEqual(try files(in: archive), partials, "something besides the temporary was left")
        try? FileManager.default.removeItem(atPath: daemon.socketPath)
        let restarted = try DaemonProcess(arguments: ["--api-base", upstream!.baseURL, "--device",
                                                      "file:FILE=\(path("capture2.raw")),FORMAT=raw",
                                                      "--archive-dir", archive], in: directory)
        XCTAssertEqual(try files(in: archive), [], "the stale temporary was not removed at start")
        _ = restarted.stop()
    }

    func testDiskFullFailsTheArchiveButNotPlayback() throws {
        let archive = path("small")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        let mount = try Child("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", archive]).finish()
        // A full disk is the point of this test: without the tmpfs it fails rather than skips (CI runs as root).
        guard mount.status == 0 else { return XCTFail("cannot mount a tmpfs (not root?): \(mount.stderr)") }
        defer { _ = try? Child("/bin/umount", [archive]).finish() }
        let (daemon, upstream, capture) = try startDaemon(arguments: ["--archive-dir", archive, "--archive-format", "wav"])
        let connection = try daemon.connect()
        // About 4 s of audio: 192 KB of WAV for a 64 KiB file system.
        let job = try connection.speak(String(repeating: "Disk full. ", count: 18))
        let events = try collect(connection, job: job)
        XCTAssertEqual(events.first { $0.event == .job && $0.state?.isFinal == true }?.state, .finished)
        let archived = try XCTUnwrap(events.first { $0.event == .archive })
        XCTAssertEqual(archived.state, .failed)
        XCTAssertTrue(archived.reason?.contains("disk full") == true, archived.reason ?? "no reason")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)), try sentPCM(upstream), "playback was disturbed")
        XCTAssertEqual(try files(in: archive).filter { !$0.hasPrefix("lost+found") }, [], "a partial archive was left")
    }
}
