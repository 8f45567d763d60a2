import Foundation
import SpeakdCore
import SpeakdProcessing
import XCTest

/// The loudness meter against BS.1770's reference points, and the limiter's ceiling measured by that meter.
final class LoudnessTests: XCTestCase {
    private let format = PCMFormat(sampleRate: 48_000, channels: 1)

    private func sine(hz: Double, amplitude: Double, seconds: Double, phase: Double = 0, rate: Int = 48_000) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { Int16((amplitude * sin(2 * .pi * hz * Double($0) / Double(rate) + phase)).rounded()) }
    }

    func testAOneKilohertzSineAtMinusTwentyDBFSMeasuresMinusTwentyThreeLUFS() throws {
        let meter = try XCTUnwrap(LoudnessMeter(format: format))
        meter.add(sine(hz: 1_000, amplitude: 3_276.8, seconds: 3))
        XCTAssertEqual(try XCTUnwrap(meter.integratedLoudness), -23.01, accuracy: 0.1)
        XCTAssertEqual(try XCTUnwrap(meter.truePeak), -20, accuracy: 0.1)
    }

    func testSilenceHasNoLoudness() throws {
        let meter = try XCTUnwrap(LoudnessMeter(format: format))
        meter.add([Int16](repeating: 0, count: 48_000))
        XCTAssertNil(meter.integratedLoudness)
    }

    /// A sine at a quarter of the rate sampled 45° off its peaks: the samples reach 0.707 of a full-scale peak that
    /// lies between them (+3 dBTP over the sample peak). The limiter keeps that true peak under its ceiling.
    func testTheLimiterKeepsTheTruePeakUnderTheCeiling() throws {
        let input = sine(hz: 12_000, amplitude: 32_767 / 1.02, seconds: 1, phase: .pi / 4)
            + sine(hz: 440, amplitude: 32_000, seconds: 1)
        let limiter = PeakLimiter(ceiling: -1)
        var output: [Int16] = []
        for chunk in stride(from: 0, to: input.count, by: 1_000) {
            output += limiter.limit(Array(input[chunk..<min(chunk + 1_000, input.count)]), format: format)
        }
        output += limiter.flush()
        XCTAssertEqual(output.count, input.count, "the limiter changes no length")
        let before = try XCTUnwrap(LoudnessMeter(format: format))
        before.add(input)
        XCTAssertGreaterThan(try XCTUnwrap(before.truePeak), -0.5)
        let after = try XCTUnwrap(LoudnessMeter(format: format))
        after.add(output)
        XCTAssertLessThanOrEqual(try XCTUnwrap(after.truePeak), -1.0)
    }

    func testAudioUnderTheCeilingPassesUnchanged() {
        let input = sine(hz: 300, amplitude: 10_000, seconds: 0.5)
        let limiter = PeakLimiter(ceiling: -1)
        let output = limiter.limit(input, format: format) + limiter.flush()
        XCTAssertEqual(output, input)
    }
}
