import Foundation
import SpeakdCore
import SpeakdProcessing
import XCTest

/// The post-processing filters: `Gain`, `ChannelMap`, `Resampler` (libsoxr), `ProcessingChain`, and the core's ramps.
final class FilterTests: XCTestCase {
    private func sine(_ frequency: Double, seconds: Double, rate: Int, amplitude: Double = 12_000) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { Int16(amplitude * sin(2 * .pi * frequency * Double($0) / Double(rate))) }
    }

    /// Frequency from rising zero crossings over the middle half of one channel.
    private func frequency(of samples: [Int16], rate: Int) -> Double {
        let middle = Array(samples[(samples.count / 4)..<(3 * samples.count / 4)])
        var crossings: [Int] = []
        for index in 1..<middle.count where middle[index - 1] < 0 && middle[index] >= 0 { crossings.append(index) }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) * Double(rate) / Double(last - first)
    }

    private func run(_ filter: any AudioFilter, _ samples: [Int16], format: PCMFormat, chunk: Int) throws -> [Int16] {
        var out: [Int16] = []
        var start = 0
        while start < samples.count {
            let end = min(start + chunk * format.channels, samples.count)
            var piece = Array(samples[start..<end])
            try filter.process(&piece, format: format)
            out += piece
            start = end
        }
        return out + (try filter.flush())
    }

    // MARK: gain

    func testGainScalesRoundsAndSaturates() {
        var samples: [Int16] = [0, 1, -1, 3, 1_000, -1_000, 20_000, -20_000, .max, .min]
        Gain(2).process(&samples, format: .openAISpeech)
        XCTAssertEqual(samples, [0, 2, -2, 6, 2_000, -2_000, .max, .min, .max, .min])
        var halved: [Int16] = [3, -3, 1_001, -32_768]
        Gain(0.5).process(&halved, format: .openAISpeech)
        XCTAssertEqual(halved, [2, -2, 501, -16_384], "rounded to nearest, halves away from zero")
        var untouched: [Int16] = [7, -7]
        Gain(1).process(&untouched, format: .openAISpeech)
        XCTAssertEqual(untouched, [7, -7])
        XCTAssertTrue(Gain(1).isIdentity)
        var silenced: [Int16] = [7, -7]
        Gain(0).process(&silenced, format: .openAISpeech)
        XCTAssertEqual(silenced, [0, 0])
    }

    /// In place: the caller's buffer is reused, not replaced (no allocation in the steady state).
    func testGainWorksInPlace() {
        var samples = [Int16](repeating: 100, count: 4_800)
        let before = samples.withUnsafeBufferPointer { $0.baseAddress }
        Gain(1.5).process(&samples, format: .openAISpeech)
        XCTAssertEqual(samples.withUnsafeBufferPointer { $0.baseAddress }, before)
        XCTAssertEqual(samples.first, 150)
    }

    // MARK: channels

    func testChannelMapDuplicatesMonoAndAveragesStereo() throws {
        let toStereo = ChannelMap(channels: 2)
        var mono: [Int16] = [1, -2, 300]
        try toStereo.process(&mono, format: PCMFormat(sampleRate: 24_000, channels: 1))
        XCTAssertEqual(mono, [1, 1, -2, -2, 300, 300])
        XCTAssertEqual(toStereo.outputFormat(for: .openAISpeech), PCMFormat(sampleRate: 24_000, channels: 2))

        let toMono = ChannelMap(channels: 1)
        var stereo: [Int16] = [100, 200, -5, -6, .max, .max, .min, .min]
        try toMono.process(&stereo, format: PCMFormat(sampleRate: 48_000, channels: 2))
        XCTAssertEqual(stereo, [150, -6, .max, .min])

        var same: [Int16] = [4, 5]
        try toMono.process(&same, format: .openAISpeech)
        XCTAssertEqual(same, [4, 5])
    }

    func testChannelMapRefusesLayoutsItCannotMap() {
        var samples = [Int16](repeating: 0, count: 6)
        XCTAssertThrowsError(try ChannelMap(channels: 2).process(&samples, format: PCMFormat(sampleRate: 48_000, channels: 3))) {
            XCTAssertEqual(($0 as? AudioFilterError)?.kind, .unsupportedFormat)
        }
        XCTAssertEqual(samples.count, 6, "left as it was")
    }

    // MARK: resampling

    func testResamplingKeepsPitchAndLengthAcrossChunks() throws {
        let input = sine(440, seconds: 1, rate: 24_000)
        let output = try run(Resampler(outputRate: 48_000), input, format: .openAISpeech, chunk: 1_013)
        XCTAssertEqual(Double(output.count), 48_000, accuracy: 4, "twice as many frames, held ones flushed")
        XCTAssertEqual(frequency(of: output, rate: 48_000), 440, accuracy: 1)
        // Level kept: the peak of the middle is the input's amplitude within a percent.
        let peak = output[12_000..<36_000].map { abs(Int($0)) }.max() ?? 0
        XCTAssertEqual(Double(peak), 12_000, accuracy: 120)

        let down = try run(Resampler(outputRate: 16_000), input, format: .openAISpeech, chunk: 4_800)
        XCTAssertEqual(Double(down.count), 16_000, accuracy: 4)
        XCTAssertEqual(frequency(of: down, rate: 16_000), 440, accuracy: 1)
    }

    /// Streaming is invisible: any chunking gives the same samples as one piece.
    func testResamplingDoesNotDependOnChunking() throws {
        let input = sine(300, seconds: 0.5, rate: 22_050)
        let format = PCMFormat(sampleRate: 22_050)
        let whole = try run(Resampler(outputRate: 48_000), input, format: format, chunk: input.count)
        let pieces = try run(Resampler(outputRate: 48_000), input, format: format, chunk: 97)
        XCTAssertEqual(whole, pieces)
    }

    func testResamplingStereoSilenceStaysSilentAndSameRatePassesThrough() throws {
        let silence = [Int16](repeating: 0, count: 2 * 4_800)
        let stereo = PCMFormat(sampleRate: 24_000, channels: 2)
        let out = try run(Resampler(outputRate: 44_100), silence, format: stereo, chunk: 480)
        XCTAssertEqual(Double(out.count / 2), 4_800 * 44_100 / 24_000, accuracy: 4)
        XCTAssertEqual(out.count % 2, 0, "whole frames")
        XCTAssertTrue(out.allSatisfy { $0 == 0 }, "no dither: silence stays digital silence")

        let input = sine(440, seconds: 0.1, rate: 48_000)
        XCTAssertEqual(try run(Resampler(outputRate: 48_000), input, format: PCMFormat(sampleRate: 48_000), chunk: 333), input)
    }

    func testResamplerRefusesImplausibleRates() {
        var samples: [Int16] = [1, 2, 3]
        XCTAssertThrowsError(try Resampler(outputRate: 48_000).process(&samples, format: PCMFormat(sampleRate: 1_000))) {
            XCTAssertEqual(($0 as? AudioFilterError)?.kind, .unsupportedFormat)
        }
    }

    // MARK: chain

    func testPlaybackChainConvertsToTheDeviceFormatAndScalesWordStarts() throws {
        let chain = ProcessingChain.playback(gain: 0.5, deviceFormat: PCMFormat(sampleRate: 48_000, channels: 2))
        let input = sine(440, seconds: 0.5, rate: 24_000)
        var output: [Int16] = []
        var words: [WordStart] = []
        for start in stride(from: 0, to: input.count, by: 2_400) {
            let chunk = AudioChunk(format: .openAISpeech, samples: Array(input[start..<(start + 2_400)]),
                                   wordStarts: start == 2_400 ? [WordStart(textOffset: 5, frame: 3_000)] : [])
            let out = try chain.process(chunk)
            XCTAssertEqual(out.format, PCMFormat(sampleRate: 48_000, channels: 2))
            output += out.samples
            words += out.wordStarts
        }
        if let tail = try chain.flush() { output += tail.samples }
        XCTAssertNil(try chain.flush(), "nothing left after a flush")
        XCTAssertEqual(Double(output.count), 2 * 24_000, accuracy: 8)
        XCTAssertEqual(words, [WordStart(textOffset: 5, frame: 6_000)])
        let left = stride(from: 0, to: output.count, by: 2).map { output[$0] }
        let right = stride(from: 1, to: output.count, by: 2).map { output[$0] }
        XCTAssertEqual(left, right)
        let peak = left[6_000..<18_000].map { abs(Int($0)) }.max() ?? 0
        XCTAssertEqual(Double(peak), 6_000, accuracy: 80, "gain 0.5 applied")
    }

    func testAnEmptyChainPassesChunksThrough() throws {
        let chain = ProcessingChain.playback(gain: 1, deviceFormat: nil)
        XCTAssertTrue(chain.isEmpty)
        let chunk = AudioChunk(format: .openAISpeech, samples: [1, 2, 3], wordStarts: [WordStart(textOffset: 0, frame: 1)])
        XCTAssertEqual(try chain.process(chunk), chunk)
        XCTAssertNil(try chain.flush())
    }

    // MARK: ramps

    func testRampsFallAndRiseAndComposeFromPieces() {
        var whole = [Int16](repeating: 10_000, count: 96)
        whole.withUnsafeMutableBufferPointer { SampleMath.applyRamp(to: $0, channels: 2, length: 96, offset: 0, rising: false) }
        XCTAssertEqual(whole[0], 10_000)
        XCTAssertEqual(whole[1], 10_000, "one gain per frame")
        XCTAssertLessThan(whole[94], 20)
        XCTAssertTrue(zip(whole, whole.dropFirst()).allSatisfy { $0 >= $1 }, "falling")
        var pieces = [Int16](repeating: 10_000, count: 96)
        pieces.withUnsafeMutableBufferPointer { buffer in
            SampleMath.applyRamp(to: UnsafeMutableBufferPointer(rebasing: buffer[..<40]), channels: 2, length: 96, offset: 0, rising: false)
            SampleMath.applyRamp(to: UnsafeMutableBufferPointer(rebasing: buffer[40...]), channels: 2, length: 96, offset: 40, rising: false)
        }
        XCTAssertEqual(pieces, whole)
        XCTAssertEqual(SampleMath.rampGain(frame: 0, frames: 48, rising: true), 0)
        XCTAssertEqual(SampleMath.rampGain(frame: 48, frames: 48, rising: true), 1)
        XCTAssertEqual(SampleMath.rampGain(frame: 24, frames: 48, rising: false), 0.5, accuracy: 1e-12)
    }

    /// A chunk ends in silence when its last 10 ms stay under -50 dBFS (the writer then lets the device run dry as a
    /// pause): a tone's end, one loud sample in the tail, or a chunk shorter than 10 ms of silence are told apart.
    func testAChunkEndsInSilenceOnlyWhenItsLastTenMillisecondsAreQuiet() {
        let mono = PCMFormat(sampleRate: 24_000, channels: 1)
        let tone = (0..<2_400).map { Int16(8_000 * sin(Double($0) * 0.1)) }
        XCTAssertFalse(AudioChunk(format: mono, samples: tone).endsInSilence())
        XCTAssertTrue(AudioChunk(format: mono, samples: tone + Array(repeating: 99, count: 240)).endsInSilence())
        XCTAssertFalse(AudioChunk(format: mono, samples: tone + Array(repeating: 0, count: 239) + [100]).endsInSilence())
        XCTAssertFalse(AudioChunk(format: mono, samples: tone + Array(repeating: 0, count: 200)).endsInSilence())
        XCTAssertTrue(AudioChunk(format: mono, samples: Array(repeating: -99, count: 100)).endsInSilence(), "all of a short silent chunk")
        XCTAssertFalse(AudioChunk(format: mono, samples: []).endsInSilence())
        let stereo = PCMFormat(sampleRate: 48_000, channels: 2)
        XCTAssertFalse(AudioChunk(format: stereo, samples: Array(repeating: 0, count: 959) + [-30_000]).endsInSilence())
        XCTAssertTrue(AudioChunk(format: stereo, samples: [20_000] + Array(repeating: 0, count: 960)).endsInSilence())
    }
}
