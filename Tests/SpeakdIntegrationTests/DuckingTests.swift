import Foundation
import XCTest

/// Ducking through the sound server's own policy: with PulseAudio's `module-role-ducking` loaded and music playing
/// with `media.role=music`, the music is lowered while speakd speaks (its stream carries `media.role=announcement`)
/// and comes back after. Music is a 220 Hz sine, speech the mock's 1 kHz sine: over 100 ms windows (22 and 100 whole
/// cycles) a Goertzel filter tells their levels apart in the null sink's recording.
final class DuckingTests: IntegrationTestCase {
    private var moduleIndex: String?

    override func tearDownWithError() throws {
        if let moduleIndex { _ = try? Child("/usr/bin/pactl", ["unload-module", moduleIndex]).finish() }
        try super.tearDownWithError()
    }

    func testMusicIsLoweredWhileSpeakdSpeaksAndRestoredAfter() throws {
        let (daemon, recorder, player) = try startMusicAndDaemon(triggerRoles: "announcement")
        defer { player.process.signal(SIGKILL) }
        usleep(1_500_000)
        // About 2 s of speech (60 ms of audio per character).
        XCTAssertEqual(try daemon.speakctl(["--wait", "Dinner is ready now."]).status, 0)
        usleep(2_500_000)
        let recorded = recorder.stop()

        let windows = Self.levels(recorded)
        let speaking = windows.indices.filter { windows[$0].speech > 2_000 }
        let first = try XCTUnwrap(speaking.first, "no speech in the recording")
        let last = try XCTUnwrap(speaking.last)
        let playing = windows.indices.filter { windows[$0].music > 500 }
        let musicStart = try XCTUnwrap(playing.first, "no music in the recording")
        // Before: the music's own level, away from its start and from the speech.
        let before = Self.median(windows[(musicStart + 3)..<(first - 1)].map(\.music))
        // During: the windows well inside the speech (the ducking ramps in over a few windows at most).
        let during = Self.median(windows[(first + 3)...(last - 1)].map(\.music))
        // After: from 1 s after the last speech window, for half a second.
        let after = Self.median(windows[(last + 11)..<min(last + 16, windows.count)].map(\.music))
        let ducked = 20 * log10(during / before)
        let restored = 20 * log10(after / before)
        print("ducking: music \(Int(before)) before, \(Int(during)) while speaking (\(String(format: "%.1f", ducked)) dB), \(Int(after)) 1 s after (\(String(format: "%.1f", restored)) dB)")
        XCTAssertLessThanOrEqual(ducked, -15, "the music was not lowered by 15 dB while speakd spoke")
        XCTAssertGreaterThan(restored, -1, "the music was not back to its level 1 s after the speech")
    }

    /// Loads `module-role-ducking` ducking music for `triggerRoles` (unloaded in tearDown), starts a daemon on a
    /// 1 kHz mock voice, a recorder, and 9 s of 220 Hz music with `media.role=music`.
    private func startMusicAndDaemon(triggerRoles: String) throws -> (DaemonProcess, SinkRecorder, Child) {
        let load = try Child("/usr/bin/pactl", ["load-module", "module-role-ducking", "trigger_roles=\(triggerRoles)",
                                                "ducking_roles=music", "volume=-20dB"]).finish()
        XCTAssertEqual(load.status, 0, "module-role-ducking did not load: \(load.stderr)")
        moduleIndex = load.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let upstream = try MockUpstream(["--ms-per-char", "60", "--tone", "1000"], in: directory)
        self.upstream = upstream
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL], in: directory,
                                       environment: ["OPENAI_API_KEY": "sk-test"])
        self.daemon = daemon
        let recorder = try SinkRecorder(in: directory)
        self.recorder = recorder
        let music = directory.appendingPathComponent("music.wav")
        try Self.sineWAV(hertz: 220, seconds: 9, amplitude: 8_000).write(to: music)
        return (daemon, recorder, try Child("/usr/bin/paplay", ["--property=media.role=music", music.path]))
    }

    /// The music's (220 Hz) and the speech's (1 kHz) level in each 100 ms window.
    static func levels(_ recorded: [Int16]) -> [(music: Double, speech: Double)] {
        stride(from: 0, to: recorded.count - 2_400, by: 2_400).map { start in
            (music: amplitude(of: 220, in: recorded[start..<start + 2_400]),
             speech: amplitude(of: 1_000, in: recorded[start..<start + 2_400]))
        }
    }

    /// Amplitude of the `hertz` component of `samples` (Goertzel; exact for whole cycles in the window).
    static func amplitude(of hertz: Double, in samples: ArraySlice<Int16>, rate: Double = 24_000) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * hertz / rate)
        var previous = 0.0, beforePrevious = 0.0
        for sample in samples {
            let current = Double(sample) + coefficient * previous - beforePrevious
            beforePrevious = previous
            previous = current
        }
        let power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious
        return 2 * sqrt(max(power, 0)) / Double(samples.count)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// A 16-bit mono WAV at 24 kHz holding a sine.
    static func sineWAV(hertz: Double, seconds: Double, amplitude: Double) -> Data {
        let frames = Int(24_000 * seconds)
        var data = Data()
        func append32(_ value: Int) { withUnsafeBytes(of: UInt32(value).littleEndian) { data.append(contentsOf: $0) } }
        func append16(_ value: Int) { withUnsafeBytes(of: UInt16(value).littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8)); append32(36 + frames * 2)
        data.append(contentsOf: Array("WAVEfmt ".utf8)); append32(16); append16(1); append16(1)
        append32(24_000); append32(48_000); append16(2); append16(16)
        data.append(contentsOf: Array("data".utf8)); append32(frames * 2)
        for index in 0..<frames {
            let sample = Int16(amplitude * sin(2 * Double.pi * hertz * Double(index) / 24_000))
            withUnsafeBytes(of: sample.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }
}

extension DuckingTests {
    /// Roles per job: with only `accessibility` ducking the music, a job of that role ducks it and a job of the
    /// default role (`announcement`) right after does not: the device is reopened for the other role.
    func testEachJobsStreamCarriesItsOwnRole() throws {
        let (daemon, recorder, player) = try startMusicAndDaemon(triggerRoles: "accessibility")
        defer { player.process.signal(SIGKILL) }
        usleep(1_000_000)
        let client = try daemon.connect()
        let refused = try client.request("speak", ["input": .string("x"), "media_role": .string("bad role")])
        XCTAssertEqual(refused.error?.field, "media_role")
        for role in ["accessibility", "announcement"] {
            let reply = try client.request("speak", ["input": .string("A screen reader speaks."), "media_role": .string(role)])
            XCTAssertTrue(reply.ok, "\(reply)")
            while try client.nextEvent().state?.isFinal != true {}
            usleep(600_000)
        }
        let recorded = recorder.stop()
        let windows = Self.levels(recorded)
        // Two runs of speech: the first (accessibility) with the music ducked, the second (announcement) not.
        var runs: [[Int]] = []
        for index in windows.indices where windows[index].speech > 2_000 {
            if let last = runs.last?.last, last == index - 1 { runs[runs.count - 1].append(index) } else { runs.append([index]) }
        }
        XCTAssertEqual(runs.count, 2, "expected two jobs' speech")
        guard runs.count == 2, runs[0].count > 4, runs[1].count > 4 else { return }
        let first = Self.median(runs[0].dropFirst(2).dropLast().map { windows[$0].music })
        let second = Self.median(runs[1].dropFirst(2).dropLast().map { windows[$0].music })
        print("roles: music \(Int(first)) under accessibility, \(Int(second)) under announcement")
        XCTAssertLessThan(20 * log10(first / 8_000), -15, "the accessibility job did not duck the music")
        XCTAssertGreaterThan(20 * log10(second / 8_000), -1, "the announcement job ducked the music")
    }
}
