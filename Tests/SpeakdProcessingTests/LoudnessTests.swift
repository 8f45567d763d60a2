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

    /// The normaliser's meters skip the true peak (it adds CPU and nothing reads it): the loudness is the same without it.
    func testAMeterWithoutTruePeakMeasuresTheSameLoudness() throws {
        let tone = sine(hz: 1_000, amplitude: 3_276.8, seconds: 3)
        let full = try XCTUnwrap(LoudnessMeter(format: format))
        let loudnessOnly = try XCTUnwrap(LoudnessMeter(format: format, truePeak: false))
        full.add(tone)
        loudnessOnly.add(tone)
        XCTAssertEqual(try XCTUnwrap(loudnessOnly.integratedLoudness), try XCTUnwrap(full.integratedLoudness), accuracy: 1e-9)
        XCTAssertNil(loudnessOnly.truePeak)
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

    /// The daemon hands a phrase-cache hit to the normaliser in slices of a tenth of a second (`AudioChunk.split`),
    /// so its first sound waits for one slice's processing: the output must be what the whole chunk gives, sample for
    /// sample, pause-revised gain and limiter included.
    func testTheNormalizerGivesTheSameSamplesWholeOrInSlices() {
        let stereo = PCMFormat(sampleRate: 24_000, channels: 2)
        // Two loud "sentences" with a pause between them (the gain is revised there) and peaks for the limiter.
        let sentence = sine(hz: 220, amplitude: 30_000, seconds: 1.2, rate: 24_000).flatMap { [$0, $0 / 2] }
        let pause = [Int16](repeating: 0, count: 24_000 / 4 * 2)
        let chunk = AudioChunk(format: stereo, samples: sentence + pause + sentence, wordStarts: [WordStart(textOffset: 4, frame: 30_000)])
        let whole = LoudnessNormalizer(target: -16, ceiling: -1, startingLoudness: -30)
        let startingGain = whole.gain
        let expected = whole.normalize(chunk.samples, format: stereo) + whole.endSegment()

        let slices = chunk.split(maxFrames: 2_400)
        XCTAssertEqual(slices.count, 27)   // 63,600 frames
        XCTAssertTrue(slices.allSatisfy { $0.samples.count <= 4_800 && $0.samples.count % 2 == 0 && $0.format == stereo })
        XCTAssertEqual(slices.flatMap(\.wordStarts), chunk.wordStarts)
        XCTAssertEqual(slices.first?.wordStarts, chunk.wordStarts, "word starts travel with the first slice")
        XCTAssertTrue(slices.flatMap(\.samples).elementsEqual(chunk.samples))
        XCTAssertTrue(chunk.split(maxFrames: 63_600) == [chunk], "a chunk no longer than the slice stays whole")

        let sliced = LoudnessNormalizer(target: -16, ceiling: -1, startingLoudness: -30)
        var output: [Int16] = []
        for slice in slices { output += sliced.normalize(slice.samples, format: stereo) }
        output += sliced.endSegment()
        XCTAssertEqual(output.count, expected.count)
        XCTAssertTrue(output.elementsEqual(expected), "slicing changed the normalised samples")
        XCTAssertNotEqual(whole.gain, startingGain, "the gain was revised in the pause")

        // As the writer hands it on: a short first slice (20 ms), the meters fed after each slice is delivered.
        let writerSlices = chunk.split(maxFrames: 2_400, firstFrames: 480)
        XCTAssertEqual(writerSlices.map { $0.samples.count / 2 }.prefix(3), [480, 2_400, 2_400])
        XCTAssertEqual(writerSlices.count, 28)   // 480 + 26 × 2,400 + 720 = 63,600
        XCTAssertEqual(writerSlices.first?.wordStarts, chunk.wordStarts)
        XCTAssertTrue(writerSlices.flatMap(\.samples).elementsEqual(chunk.samples))
        XCTAssertTrue(chunk.split(maxFrames: 63_600, firstFrames: 63_600) == [chunk])
        let measuredAsItGoes = LoudnessNormalizer(target: -16, ceiling: -1, startingLoudness: -30)
        output = []
        for slice in writerSlices {
            output += measuredAsItGoes.normalize(slice.samples, format: stereo)
            measuredAsItGoes.measure()
        }
        output += measuredAsItGoes.endSegment()
        XCTAssertTrue(output.elementsEqual(expected), "measuring after each slice changed the normalised samples")
        XCTAssertEqual(measuredAsItGoes.measuredSeconds, whole.measuredSeconds, accuracy: 1e-9)
        XCTAssertEqual(measuredAsItGoes.measuredLoudness ?? 0, whole.measuredLoudness ?? 1, accuracy: 1e-9)
        XCTAssertEqual(measuredAsItGoes.limiterLoss, whole.limiterLoss, accuracy: 1e-9)
        XCTAssertGreaterThan(whole.limiterLoss, 0, "the limiter worked on these peaks")
    }
}
