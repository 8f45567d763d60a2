import Foundation
import SpeakdCore
import SpeakdProcessing
import XCTest

/// libsonic behind `TimeStretch`: lengths, pitch, level, continuity, chunking and flush.
final class TimeStretchTests: XCTestCase {
    private let format = PCMFormat(sampleRate: 24_000)

    /// Speech-like: a 140 Hz voice with harmonics, its loudness moving at syllable rate (4 Hz), peaks near -6 dBFS.
    private func voice(seconds: Double, fundamental: Double = 140, rate: Int = 24_000) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { index in
            let t = Double(index) / Double(rate)
            let envelope = 0.6 + 0.4 * sin(2 * .pi * 4 * t)
            let wave = sin(2 * .pi * fundamental * t) + 0.5 * sin(4 * .pi * fundamental * t) + 0.25 * sin(6 * .pi * fundamental * t)
            return Int16(16_000 * envelope * wave / 1.75)
        }
    }

    private func sine(_ frequency: Double, seconds: Double, amplitude: Double = 12_000) -> [Int16] {
        (0..<Int(seconds * 24_000)).map { Int16(amplitude * sin(2 * .pi * frequency * Double($0) / 24_000)) }
    }

    private func stretch(_ samples: [Int16], speed: Double, chunk: Int = 4_800, format: PCMFormat? = nil) -> [Int16] {
        let filter = TimeStretch(speed: speed)
        var out: [Int16] = []
        var start = 0
        while start < samples.count {
            let end = min(start + chunk, samples.count)
            out += filter.process(Array(samples[start..<end]), format: format ?? self.format)
            start = end
        }
        return out + filter.flush()
    }

    /// Frequency from the rising zero crossings of the middle half (away from start-up and flush).
    private func frequency(of samples: [Int16]) -> Double {
        let middle = samples[(samples.count / 4)..<(3 * samples.count / 4)]
        var crossings: [Int] = []
        var previous = middle.first ?? 0
        for (index, sample) in zip(middle.indices, middle) {
            if previous < 0, sample >= 0 { crossings.append(index) }
            previous = sample
        }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) * 24_000 / Double(last - first)
    }

    func testLengthIsTheInputsDividedBySpeed() {
        let input = voice(seconds: 4)
        for speed in [0.25, 0.5, 0.8, 1.25, 2.0, 2.5, 4.0] {
            let out = stretch(input, speed: speed)
            let ratio = Double(out.count) / (Double(input.count) / speed)
            XCTAssertEqual(ratio, 1, accuracy: 0.02, "speed \(speed): \(out.count) samples for \(input.count)")
        }
    }

    func testPitchIsKept() {
        for frequency in [110.0, 220.0, 330.0] {
            let input = sine(frequency, seconds: 2)
            for speed in [0.5, 2.0, 4.0] {
                let measured = self.frequency(of: stretch(input, speed: speed))
                XCTAssertEqual(measured / frequency, 1, accuracy: 0.02, "\(frequency) Hz at \(speed)× came out at \(measured) Hz")
            }
        }
    }

    /// The RMS of the quietest 10 ms window.
    private func quietestWindow(_ samples: [Int16]) -> Double {
        let window = 240
        var quietest = Double.infinity
        for start in stride(from: 0, to: samples.count - window, by: window) {
            let rms = (samples[start..<(start + window)].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(window)).squareRoot()
            quietest = min(quietest, rms)
        }
        return quietest
    }

    /// At 4× (and ¼×), speech stays whole: no sample louder than the input's loudest, and no 10 ms window much
    /// quieter than the input's quietest (a gap or a dropout would be near silence).
    func testFourTimesSpeedNeitherClipsNorLeavesGaps() {
        let input = voice(seconds: 4)
        let peak = input.map { abs(Int($0)) }.max()!
        let inputQuietest = quietestWindow(input)
        for speed in [0.25, 4.0] {
            let out = stretch(input, speed: speed)
            XCTAssertLessThanOrEqual(out.map { abs(Int($0)) }.max()!, peak + 64, "speed \(speed) made it louder")
            let quietest = quietestWindow(out)
            XCTAssertGreaterThan(quietest, inputQuietest / 2, "a gap at speed \(speed): a 10 ms window with RMS \(quietest), the input's quietest \(inputQuietest)")
        }
    }

    /// Audio arriving in any chunking gives the same length (within a pitch period) and nearly the same samples.
    func testChunkingDoesNotChangeTheResult() {
        let input = voice(seconds: 3)
        for speed in [0.5, 2.5] {
            let whole = stretch(input, speed: speed, chunk: input.count)
            for chunk in [1, 7, 480, 4_097] {
                let pieces = stretch(input, speed: speed, chunk: chunk)
                XCTAssertEqual(Double(pieces.count), Double(whole.count), accuracy: 24_000 / 65,
                               "speed \(speed), chunks of \(chunk)")
                let common = min(pieces.count, whole.count)
                var difference = 0.0, energy = 0.0
                for index in 0..<common {
                    difference += pow(Double(pieces[index]) - Double(whole[index]), 2)
                    energy += pow(Double(whole[index]), 2)
                }
                XCTAssertLessThan(difference / energy, 0.01, "speed \(speed), chunks of \(chunk): the samples differ")
            }
        }
    }

    /// Sonic holds back a few pitch periods; `flush` gives them back, and the next input starts afresh.
    func testFlushReleasesWhatIsHeldBack() {
        let filter = TimeStretch(speed: 2)
        let input = voice(seconds: 1)
        let first = filter.process(input, format: format)
        XCTAssertLessThan(first.count, input.count / 2, "nothing held back before the flush?")
        let rest = filter.flush()
        XCTAssertFalse(rest.isEmpty)
        XCTAssertEqual(Double(first.count + rest.count), Double(input.count) / 2, accuracy: Double(input.count) * 0.02)
        XCTAssertTrue(filter.flush().isEmpty, "a second flush has nothing left")
        // A second segment through the same filter: the same length again.
        let again = filter.process(input, format: format) + filter.flush()
        XCTAssertEqual(Double(again.count), Double(input.count) / 2, accuracy: Double(input.count) * 0.02)
    }

    func testStereoAndOtherRatesKeepWholeFrames() {
        let mono = voice(seconds: 2, rate: 22_050)
        let stereo = mono.flatMap { [$0, $0] }
        let format = PCMFormat(sampleRate: 22_050, channels: 2)
        let out = stretch(stereo, speed: 2, chunk: 1_001 * 2, format: format)
        XCTAssertEqual(out.count % 2, 0)
        XCTAssertEqual(Double(out.count / 2), Double(mono.count) / 2, accuracy: Double(mono.count) * 0.02)
    }
}
