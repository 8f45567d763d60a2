import Foundation
import SpeakdClient
import SpeakdProtocol
import SpeakdSnapcast
import SpeakdTestSupport
import XCTest

/// The house's speakers: the real snapserver (a `meta` stream `house` = the announcement over the music, buffer
/// 400 ms) and two real snapclients writing what they play to files (48 kHz s16 stereo), with speakd beside the
/// local device (PulseAudio's null sink). The music is a quiet 220 Hz sine; the mock upstream's speech is loud noise,
/// so every 10 ms of a client's output reads as music, speech or silence by its level.
final class SnapcastTests: IntegrationTestCase {
    private var house: SnapserverFixture?
    private var music: MusicWriter?
    private var rooms: [String] = []

    override func tearDownWithError() throws {
        music?.stop()
        house?.tearDown()
        try super.tearDownWithError()
    }

    /// snapserver, its music, two clients on the `house` stream, speakd sending to the announcement source.
    private func startHouse(control: Bool = false, local: Bool = true, extra: String = "") throws -> (DaemonProcess, MockUpstream, SnapserverFixture) {
        let house = try SnapserverFixture(meta: true)
        self.house = house
        try house.startServer()
        music = try MusicWriter(pipe: house.musicPipe)
        rooms = [1, 2].map { directory.appendingPathComponent("room\($0).raw").path }
        for (index, room) in rooms.enumerated() { try house.startClient(index + 1, output: room) }
        try house.waitForClients(["room1", "room2#2"])
        if !control {
            let rpc = SnapcastRPCClient(server: house.control)
            for group in try house.groups() { try rpc.setStream(group: group.id, to: "house") }
        }
        let upstream = try MockUpstream(["--ms-per-char", "25"], in: directory)
        self.upstream = upstream
        recorder = try SinkRecorder(in: directory)
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            [snapcast]
            source = "tcp://127.0.0.1:\(house.announcePort)"
            buffer_ms = 400
            local = \(local)
            \(control ? "control = \"127.0.0.1:\(house.controlPort)\"\nstream = \"announce\"" : "")
            \(extra)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--api-base", upstream.baseURL, "--no-cache"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-test", "SPEAKD_NORMALIZE": "false",
                                                                    "SPEAKD_STATE_DIR": directory.path])
        self.daemon = daemon
        // Some music first, so that "before" has something to show.
        try waitForMusic()
        return (daemon, upstream, house)
    }

    private func waitForMusic() throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if rooms.allSatisfy({ Timeline(file: $0).kinds.suffix(20).filter { $0 == .music }.count >= 15 }) { return }
            usleep(100_000)
        }
        throw HarnessError("the clients played no music within 15 s")
    }

    /// Waits until both rooms have played music again for half a second after the last announcement.
    private func waitForMusicAfterSpeech() throws -> [Timeline] {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let timelines = rooms.map { Timeline(file: $0) }
            if timelines.allSatisfy({ $0.runs.last?.kind == .music && ($0.runs.last?.length ?? 0) >= 50 && $0.runs.contains { $0.kind == .speech } }) {
                return timelines
            }
            usleep(100_000)
        }
        return rooms.map { Timeline(file: $0) }
    }

    func testAnAnnouncementIsHeardWholeInBothRoomsBetweenTheMusic() throws {
        let (daemon, upstream, _) = try startHouse()
        XCTAssertEqual(try daemon.speakctl(["--wait", "The front door is open, please close it."]).status, 0)
        let speech = try upstream.requests().reduce(Data()) { $0 + $1.pcm }
        let seconds = Double(speech.count / 2) / 24_000
        // `finished` (the end of --wait) means heard in the rooms: by then both have played the whole announcement.
        for room in rooms {
            let heard = Double(Timeline(file: room).kinds.filter { $0 == .speech }.count) / 100
            XCTAssertGreaterThan(heard, seconds - 0.06, "\(room): finished came before the rooms heard the end")
        }
        for (room, timeline) in zip(rooms, try waitForMusicAfterSpeech()) {
            XCTAssertEqual(timeline.sequence, [.music, .speech, .music], "\(room): \(timeline.summary)")
            XCTAssertEqual(timeline.gapsInSpeech, 0, "\(room): \(timeline.summary)")
            let heard = Double(timeline.kinds.filter { $0 == .speech }.count) / 100
            XCTAssertEqual(heard, seconds, accuracy: 0.05, "\(room): the announcement is not whole (\(timeline.summary))")
            // The very samples speakd sent (resampled 24 → 48 kHz), near the start and near the end.
            for at in [0.1, seconds - 0.15] {
                XCTAssertGreaterThan(timeline.correlation(with: SinkRecorder.samples(of: speech), at: at), 0.9, "\(room) at \(at) s")
            }
        }
        let status = try XCTUnwrap(daemon.connect().request("status").status?.snapcast)
        XCTAssertNil(status.error)
        XCTAssertEqual(status.sentSeconds, seconds + 0.5, accuracy: 0.1, "the speech and 500 ms of preroll")
        XCTAssertEqual(status.droppedSeconds, 0)
        // The local device played it too (the null sink's recording holds the job's samples).
        let local = recorder?.samples ?? []
        let samples = SinkRecorder.samples(of: speech)
        XCTAssertNotNil(local.firstIndex(ofSequence: samples[2_000..<2_400]), "the local device did not play the job")
    }

    func testBackToBackJobsJoinWithoutAGapAndAStopCutsBothRooms() throws {
        let (daemon, _, _) = try startHouse()
        let client = try daemon.connect()
        _ = try client.request("speak", ["input": .string("First of two announcements, it goes on a while.")])
        _ = try client.request("speak", ["input": .string("Second of two, right behind it.")])
        XCTAssertEqual(try daemon.speakctl(["--wait", "--priority", "text", "Third, to wait for the two."]).status, 0)
        for (room, timeline) in zip(rooms, try waitForMusicAfterSpeech()) {
            XCTAssertEqual(timeline.sequence, [.music, .speech, .music], "\(room): \(timeline.summary)")
            XCTAssertEqual(timeline.gapsInSpeech, 0, "\(room): a gap between the jobs (\(timeline.summary))")
        }
        // A long announcement stopped after a second: both rooms cut it short.
        let before = rooms.map { Timeline(file: $0).runs.count }
        _ = try client.request("speak", ["input": .string(String(repeating: "A very long announcement that nobody wants to hear to the end. ", count: 4))])
        usleep(1_500_000)
        _ = try client.request("stop")
        for (index, room) in rooms.enumerated() {
            let timeline = try waitForMusicAfterSpeech()[index]
            let new = Array(timeline.runs.dropFirst(before[index] - 1)).filter { $0.length >= 3 }
            let spoken = new.first { $0.kind == .speech }.map { Double($0.length) / 100 } ?? 0
            XCTAssertGreaterThan(spoken, 0.5, "\(room): \(timeline.summary)")
            XCTAssertLessThan(spoken, 2.0, "\(room): the stop did not cut the announcement (\(timeline.summary))")
        }
    }

    func testKillingSnapserverLeavesTheLocalDeviceAloneAndTheRoomsComeBack() throws {
        let (daemon, upstream, house) = try startHouse()
        let client = try daemon.connect()
        let job = try client.request("speak", ["input": .string(String(repeating: "The kitchen timer has finished. ", count: 3))])
        usleep(800_000)
        house.stopServer()
        XCTAssertEqual(try daemon.speakctl(["--wait", "--priority", "text", "Still here."]).status, 0, "the jobs did not end")
        let pcm = try upstream.requests().map { SinkRecorder.samples(of: $0.pcm) }
        let local = recorder?.samples ?? []
        for samples in pcm {   // every job's start and end, on the local device
            XCTAssertNotNil(local.firstIndex(ofSequence: samples[1_000..<1_400]), "local playback lost a job's start")
            XCTAssertNotNil(local.firstIndex(ofSequence: samples[(samples.count - 1_400)..<(samples.count - 1_000)]),
                            "local playback lost a job's end")
        }
        XCTAssertNotNil(job.job)
        let status = try XCTUnwrap(daemon.connect().request("status").status?.snapcast)
        XCTAssertNotNil(status.error, "the lost server is not reported")
        // snapserver back (it kept its groups): the next job is heard in the rooms again.
        try house.startServer()
        try house.waitForClients(["room1", "room2#2"])
        try music?.reopen()
        let marks = rooms.map { Timeline(file: $0).runs.filter { $0.kind == .speech && $0.length >= 3 }.count }
        XCTAssertEqual(try daemon.speakctl(["--wait", "The rooms are back."]).status, 0)
        let timelines = try waitForMusicAfterSpeech()
        for (index, timeline) in timelines.enumerated() {
            XCTAssertGreaterThan(timeline.runs.filter { $0.kind == .speech && $0.length >= 3 }.count, marks[index],
                                 "\(rooms[index]): nothing heard after snapserver came back (\(timeline.summary))")
        }
        XCTAssertNil(try daemon.connect().request("status").status?.snapcast?.error, "the recovery is not reported")
    }

    func testWithControlTheGroupsAreSwitchedForTheSpeechAndRestoredAfterOverlappingJobs() throws {
        // The clients stay on "music" (no meta stream in use): speakd switches them to its "announce" stream.
        let (daemon, _, house) = try startHouse(control: true)
        XCTAssertEqual(try house.streams(), ["room1": "music", "room2#2": "music"])
        let client = try daemon.connect()
        _ = try client.request("speak", ["input": .string("One announcement, and another right behind it.")])
        _ = try client.request("speak", ["input": .string("The second one.")])
        usleep(700_000)
        XCTAssertEqual(try house.streams(), ["room1": "announce", "room2#2": "announce"], "not switched while speaking")
        XCTAssertEqual(try daemon.speakctl(["--wait", "--priority", "text", "And a third."]).status, 0)
        usleep(300_000)
        XCTAssertEqual(try house.streams(), ["room1": "announce", "room2#2": "announce"], "restored before the rooms heard the end")
        _ = try house.poll("the groups back on music") { try house.streams() == ["room1": "music", "room2#2": "music"] ? true : nil }
        // The rooms heard the announcement between the music.
        for (room, timeline) in zip(rooms, try waitForMusicAfterSpeech()) {
            XCTAssertTrue(timeline.runs.contains { $0.kind == .speech && $0.length >= 100 }, "\(room): \(timeline.summary)")
        }
        XCTAssertNil(try daemon.connect().request("status").status?.snapcast?.groupSwitchError)
    }
}

/// A client's output as 10 ms windows: music (the quiet sine), speech (the loud noise) or silence.
struct Timeline {
    enum Kind: Character { case music = "m", speech = "S", silence = "." }
    struct Run { var kind: Kind; var length: Int }
    let left: [Int16]
    let kinds: [Kind]

    init(file: String) {
        let samples = SinkRecorder.samples(of: (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
        let left = stride(from: 0, to: samples.count - 1, by: 2).map { samples[$0] }
        self.left = left
        kinds = stride(from: 0, to: left.count - 479, by: 480).map { start in
            let window = left[start..<(start + 480)]
            let rms = (window.reduce(0.0) { $0 + Double($1) * Double($1) } / 480).squareRoot()
            return rms > 4_000 ? .speech : rms > 300 ? .music : .silence
        }
    }

    var runs: [Run] {
        var runs: [Run] = []
        for kind in kinds {
            if runs.last?.kind == kind { runs[runs.count - 1].length += 1 } else { runs.append(Run(kind: kind, length: 1)) }
        }
        return runs
    }

    /// Music and speech in the order heard, 30 ms or longer each (silence at the switches left out).
    var sequence: [Kind] {
        var sequence: [Kind] = []
        for run in runs where run.length >= 3 && run.kind != .silence && sequence.last != run.kind { sequence.append(run.kind) }
        return sequence
    }

    /// Silences of 30 ms or more between the first and the last speech.
    var gapsInSpeech: Int {
        guard let first = kinds.firstIndex(of: .speech), let last = kinds.lastIndex(of: .speech) else { return 0 }
        var gaps = 0, run = 0
        for kind in kinds[first...last] {
            if kind == .speech { if run >= 3 { gaps += 1 }; run = 0 } else { run += 1 }
        }
        return gaps
    }

    var summary: String { runs.map { "\($0.kind.rawValue)\($0.length)" }.joined(separator: " ") }

    /// The normalised correlation of the speech (24 kHz) with this output's left channel (48 kHz, so every other
    /// sample, in either phase), at `seconds` into the speech heard, over 50 ms, at the best offset near where that
    /// part of the speech should be: about 1 where the rooms heard exactly what speakd sent.
    func correlation(with speech: [Int16], at seconds: Double) -> Double {
        guard let first = kinds.firstIndex(of: .speech) else { return 0 }
        let reference = speech.map(Double.init)
        let expected = Int(seconds * 24_000)
        var best = 0.0
        for phase in 0...1 {
            let start = first * 480 + Int(seconds * 48_000) + phase
            guard start + 2_400 <= left.count else { continue }
            let segment = stride(from: start, to: start + 2_400, by: 2).map { Double(left[$0]) }
            let energy = segment.reduce(0) { $0 + $1 * $1 }
            for offset in max(0, expected - 600)...max(0, expected + 600) where offset + segment.count <= reference.count {
                var product = 0.0, referenceEnergy = 0.0
                for index in 0..<segment.count {
                    product += segment[index] * reference[offset + index]
                    referenceEnergy += reference[offset + index] * reference[offset + index]
                }
                best = max(best, product / max((energy * referenceEnergy).squareRoot(), 1))
            }
        }
        return best
    }
}

/// Writes a quiet 220 Hz sine (48 kHz s16 stereo) into snapserver's music pipe, as a player would: snapserver reads
/// it in real time, so the blocking writes pace themselves. A new writer after snapserver restarted (`reopen`).
final class MusicWriter {
    private let pipe: String
    private var child: Child?

    init(pipe: String) throws {
        self.pipe = pipe
        try reopen()
    }

    func stop() { child?.terminate(); child = nil }

    func reopen() throws {
        stop()
        let script = """
            import math, os, struct, sys
            fd = os.open(sys.argv[1], os.O_WRONLY)
            period = [int(2000 * math.sin(2 * math.pi * 220 * i / 48000)) for i in range(48000 // 220 * 220)]
            chunk = b"".join(struct.pack("<hh", v, v) for v in period)
            while True:
                os.write(fd, chunk)
            """
        child = try Child("/usr/bin/python3", ["-c", script, pipe])
    }
}
