import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Loudness normalisation end to end: sources at very different levels (mock tones 20 dB apart, and espeak-ng) come
/// out of the null sink at the target (-16 LUFS by default) from a voice's second job on, under the -1 dBTP ceiling,
/// as measured by ffmpeg's EBU R 128 filter on the recording.
final class LoudnessTests: IntegrationTestCase {
    /// Integrated loudness and true peak of a 24 kHz mono recording, by ffmpeg's ebur128 filter.
    private func measure(_ samples: [Int16]) throws -> (integrated: Double, truePeak: Double) {
        let raw = directory.appendingPathComponent("measured.raw")
        try samples.withUnsafeBytes { try Data($0).write(to: raw) }
        let result = try Child("/usr/bin/ffmpeg", ["-nostats", "-hide_banner", "-f", "s16le", "-ar", "24000", "-ac", "1",
                                                   "-i", raw.path, "-af", "ebur128=peak=true", "-f", "null", "-"]).finish()
        func value(after label: String) -> Double? {
            guard let range = result.stderr.range(of: label, options: .backwards) else { return nil }
            return Double(result.stderr[range.upperBound...].split(whereSeparator: \.isWhitespace).first ?? "")
        }
        let integrated = try XCTUnwrap(value(after: "I:"), result.stderr)
        let peak = try XCTUnwrap(value(after: "Peak:"), result.stderr)
        return (integrated, peak)
    }

    /// Speaks a first job (the daemon learns the voice), then records the second and measures it.
    private func secondJobLevel(_ daemon: DaemonProcess) throws -> (integrated: Double, truePeak: Double) {
        let first = try daemon.speakctl(["--wait", "--no-cache", "The first announcement teaches the daemon this voice. It is as long as most announcements are."])
        XCTAssertEqual(first.status, 0, first.stderr)
        recorder = try SinkRecorder(in: directory)
        let second = try daemon.speakctl(["--wait", "--no-cache", "The second one is heard at the target. It has two sentences."])
        XCTAssertEqual(second.status, 0, second.stderr)
        usleep(200_000)
        let recorded = try XCTUnwrap(recorder).stop()
        recorder = nil
        return try measure(recorded)
    }

    private func upstreamDaemon(amplitude: Int) throws -> DaemonProcess {
        let upstream = try MockUpstream(["--tone", "1000", "--amplitude", "\(amplitude)", "--ms-per-char", "40"], in: directory)
        self.upstream = upstream
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path], in: directory,
                                       environment: ["SPEAKD_NORMALIZE": "true"])
        self.daemon = daemon
        return daemon
    }

    func testUpstreamsTwentyDecibelsApartAreHeardAtTheTarget() throws {
        // Peaks 1036, 3277 and 10362: a 1 kHz sine at -33, -23 and -13 LUFS.
        for amplitude in [1_036, 3_277, 10_362] {
            let daemon = try upstreamDaemon(amplitude: amplitude)
            let level = try secondJobLevel(daemon)
            XCTAssertEqual(level.integrated, -16, accuracy: 1, "a source at peak \(amplitude)")
            XCTAssertLessThanOrEqual(level.truePeak, -1, "a source at peak \(amplitude)")
            _ = daemon.stop()
            self.daemon = nil
            upstream = nil
        }
    }

    func testTheEmbeddedEngineIsHeardAtTheTarget() throws {
        let daemon = try DaemonProcess(arguments: ["--engine", "espeak-ng"], in: directory, environment: ["SPEAKD_NORMALIZE": "true"])
        self.daemon = daemon
        let level = try secondJobLevel(daemon)
        XCTAssertEqual(level.integrated, -16, accuracy: 1)
        XCTAssertLessThanOrEqual(level.truePeak, -1)
    }

    /// The first job of a voice 13 dB under the assumed level: the gain it needs is learned during the sentence but
    /// never applied inside it (no pause to hide a step): the tone's level in 100 ms windows stays within 0.5 dB.
    func testTheGainNeverStepsInsideASentence() throws {
        let daemon = try upstreamDaemon(amplitude: 1_036)
        recorder = try SinkRecorder(in: directory)
        let spoken = try daemon.speakctl(["--wait", "--no-cache", "One long sentence with no pause in it goes on and on for a few seconds"])
        XCTAssertEqual(spoken.status, 0, spoken.stderr)
        usleep(200_000)
        let recorded = try XCTUnwrap(recorder).stop()
        // The tone's own level in 100 ms windows (Goertzel at 1 kHz: 100 whole cycles), deaf to other sounds.
        let levels = stride(from: 0, to: recorded.count - 2_400, by: 2_400).map {
            DuckingTests.amplitude(of: 1_000, in: recorded[$0..<$0 + 2_400])
        }
        // Whole windows of sound: not the first two of a run (a new stream's first milliseconds may come out of the
        // null sink as zeros) nor its last; a gap on a loaded machine splits runs but is no gain step.
        var inside: [Double] = []
        var run: [Double] = []
        for level in levels + [0] {
            if level > 100 { run.append(level); continue }
            if run.count > 3 { inside += run.dropFirst(2).dropLast() }
            run = []
        }
        XCTAssertGreaterThan(inside.count, 15, "shorter than expected: \(levels.map { Int($0) })")
        let spread = 20 * log10((inside.max() ?? 1) / max(inside.min() ?? 1, 1))
        print("loudness continuity: \(inside.count) windows of 100 ms within \(String(format: "%.2f", spread)) dB")
        XCTAssertLessThanOrEqual(spread, 0.5, "the gain changed inside the sentence: \(levels.map { Int($0) })")
    }

    func testNormalizeFalsePlaysTheLevelAsSynthesized() throws {
        let daemon = try upstreamDaemon(amplitude: 3_277)
        recorder = try SinkRecorder(in: directory)
        let connection = try daemon.connect()
        let reply = try connection.request("speak", ["input": .string("Played as the upstream made it."), "normalize": .bool(false),
                                                     "cache": .bool(false)])
        XCTAssertTrue(reply.ok, "\(reply)")
        while try connection.nextEvent().state?.isFinal != true {}
        usleep(200_000)
        let level = try measure(try XCTUnwrap(recorder).stop())
        XCTAssertEqual(level.integrated, -23, accuracy: 1)
    }
}
