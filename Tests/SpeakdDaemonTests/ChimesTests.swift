import Foundation
import SpeakdCore
@testable import SpeakdDaemon
import SpeakdProcessing
import XCTest

/// Chimes read from WAV, FLAC and Ogg Vorbis files (libsndfile), converted to the speech's format (libsoxr) and
/// matched to the loudness target (libebur128).
final class ChimesTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("chimes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A 44.1 kHz stereo 440 Hz tone in `format`, written by sox.
    private func tone(_ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let sox = Process()
        sox.executableURL = URL(fileURLWithPath: "/usr/bin/sox")
        sox.arguments = ["-n", "-r", "44100", "-c", "2", "-b", "16", path, "synth", "0.5", "sine", "440", "vol", "0.3"]
        try sox.run()
        sox.waitUntilExit()
        XCTAssertEqual(sox.terminationStatus, 0, "sox could not write \(name)")
        return path
    }

    func testWAVFLACAndOggAreReadAndConvertedToTheSpeechFormat() throws {
        let chimes = Chimes()
        for name in ["tone.wav", "tone.flac", "tone.ogg"] {
            let samples = try chimes.samples(.file(try tone(name)), format: .openAISpeech, loudness: nil)
            // 0.5 s at 24 kHz mono, within the resampler's few frames.
            XCTAssertEqual(Double(samples.count), 12_000, accuracy: 60, name)
            let peak = samples.map { abs(Int($0)) }.max() ?? 0
            XCTAssertEqual(Double(peak), 0.3 * 32_767, accuracy: 0.3 * 32_767 * 0.08, name)
        }
    }

    func testAChimeIsBroughtToTheLoudnessTargetUnderItsCeiling() throws {
        let target = LoudnessTarget(integrated: -16, truePeak: -1)
        for source in [Chimes.Source.builtIn("ding"), .builtIn("dong"), .file(try tone("tone.wav"))] {
            let samples = try Chimes().samples(source, format: .openAISpeech, loudness: target)
            let meter = try XCTUnwrap(LoudnessMeter(format: .openAISpeech))
            meter.add(samples)
            let loudness = try XCTUnwrap(meter.integratedLoudness)
            let peak = try XCTUnwrap(meter.truePeak)
            XCTAssertLessThanOrEqual(peak, -0.9, "\(source): true peak \(peak) dBTP")
            // At the target unless the ceiling held the gain back.
            if peak < -1.5 { XCTAssertEqual(loudness, -16, accuracy: 0.5, "\(source)") }
            XCTAssertGreaterThan(loudness, -24, "\(source) is far below the speech")
        }
    }

    func testNamesAndPathsAreTheOnlySources() {
        XCTAssertEqual(try Chimes.source("ding"), .builtIn("ding"))
        XCTAssertEqual(try Chimes.source("/usr/share/sounds/x.wav"), .file("/usr/share/sounds/x.wav"))
        XCTAssertThrowsError(try Chimes.source("gong"))
        XCTAssertThrowsError(try Chimes.source("relative.wav"))
        XCTAssertThrowsError(try Chimes().samples(.file("/nonexistent.wav"), format: .openAISpeech, loudness: nil))
    }
}
