import Foundation
import XCTest
@testable import SpeakdEncoding
import SpeakdCore

/// MP3 and Opus decoded by ffmpeg: the right duration within one codec frame, and the same waveform.
///
/// Similarity is the normalized cross-correlation (NCC) with the original after the best alignment within ±50 ms.
/// Threshold 0.9: at the default settings (mp3 -V 4, opus 32 kbit/s) both codecs keep the waveform of a tonal,
/// band-limited signal like this chirp (the measured values are above 0.97); their error is then a few percent of
/// the signal's energy, which costs a few hundredths of NCC. A different signal of the same kind scores near 0
/// (`testTheSimilarityCheckRejectsAWrongSignal`), so 0.9 separates "this audio" from "other audio" with a wide
/// margin on both sides.
final class LossyRoundTripTests: XCTestCase {
    static let threshold = 0.9
    let oddChunks = [1, 7, 333, 4097, 2, 10_000, 4607]

    func testMP3RoundTrip() throws {
        try roundTrip(.mp3, rate: 24_000, frame: 576)      // MPEG-2 layer III: 576 samples per frame
    }

    func testMP3ConstantBitRateRoundTrip() throws {
        try roundTrip(.mp3, rate: 24_000, frame: 576, settings: EncoderSettings(mp3: MP3Settings(mode: .cbr(kbps: 64))))
    }

    /// A quality means what it means to lame users: `-V 4` through MP3Encoder gives lame's own stream, byte for
    /// byte after the info frame (whose ReplayGain fields the tool fills in and we leave empty).
    func testVBRQualityMatchesTheLameTool() throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: 24_000, seconds: 3)
        let raw = scratch.file("x.raw"), theirs = scratch.file("theirs.mp3"), ours = scratch.file("ours.mp3")
        try writeBytes(samples.withUnsafeBytes { Array($0) }, to: raw)
        try Tool.run("lame", ["--quiet", "-r", "-s", "24", "--bitwidth", "16", "--signed", "--little-endian", "-m", "m",
                              "-V", "4", raw, theirs])
        try encodeFile(.mp3, samples, rate: 24_000, to: ours, chunks: oddChunks)
        let a = [UInt8](try Data(contentsOf: URL(fileURLWithPath: theirs)))
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ours)))
        XCTAssertEqual(a.count, b.count)
        let differing = zip(a, b).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        XCTAssertLessThan(differing.max() ?? 0, 576, "differences beyond the info frame: \(differing.prefix(10))")
        // -V 9 is where lame would resample 24 kHz to 22.05 kHz: the input rate is kept.
        let small = scratch.file("v9.mp3")
        try encodeFile(.mp3, samples, rate: 24_000, to: small,
                       settings: EncoderSettings(mp3: MP3Settings(mode: .vbr(quality: 9))))
        XCTAssertEqual(try Tool.ffmpegDecode(small, rate: 24_000).count, samples.count)
        let rate = try Tool.run("ffprobe", ["-v", "error", "-show_entries", "stream=sample_rate", "-of",
                                            "default=nw=1:nk=1", small])
        XCTAssertEqual(String(decoding: rate, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "24000")
    }

    func testOpusRoundTrip() throws {
        try roundTrip(.opus, rate: 24_000, frame: 480)     // 20 ms at the input rate
    }

    /// No speed change at the rates speech arrives in: every format's decoded length equals the input's.
    func testEveryFormatKeepsDurationAt16kTo24k() throws {
        for rate in [16_000, 22_050, 24_000] {
            try roundTrip(.mp3, rate: rate, frame: 576, seconds: 2)
            try roundTrip(.opus, rate: rate, frame: rate / 50, seconds: 2)
            for format in [ArchiveFormat.flac, .wav] {
                let scratch = try ScratchDirectory()
                let samples = TestSignal.chirp(rate: rate, seconds: 2)
                let path = scratch.file("x." + format.fileExtension)
                try encodeFile(format, samples, rate: rate, to: path)
                XCTAssertEqual(try Tool.duration(path), 2, accuracy: 0.001, "\(format) at \(rate)")
                XCTAssertTrue(try Tool.ffmpegDecode(path, rate: rate) == samples, "\(format) at \(rate)")
            }
        }
    }

    func testMP3ToASinkThatCannotSeekKeepsItsInfoFrame() throws {
        let scratch = try ScratchDirectory()
        let sink = StreamOnlySink()
        let samples = TestSignal.chirp(rate: 22_050, seconds: 3)
        let encoder = try MP3Encoder(input: .init(sampleRate: 22_050), sink: sink)
        try encoder.encode(samples, chunks: oddChunks)
        try encoder.finish()
        let path = scratch.file("streamed.mp3")
        try writeBytes(sink.memory.bytes, to: path)
        XCTAssertTrue(sink.memory.bytes.windows(ofCount: 4).contains { Array($0) == Array("Xing".utf8) }
                      || sink.memory.bytes.windows(ofCount: 4).contains { Array($0) == Array("Info".utf8) })
        let decoded = try Tool.ffmpegDecode(path, rate: 22_050)
        XCTAssertLessThanOrEqual(abs(decoded.count - samples.count), 576)
    }

    func testTheSimilarityCheckRejectsAWrongSignal() throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: 24_000, seconds: 3)
        let path = scratch.file("x.opus")
        try encodeFile(.opus, samples, rate: 24_000, to: path)
        let decoded = try Tool.ffmpegDecode(path, rate: 24_000)
        // Another signal of the same kind: the chirp half a sweep later, different noise.
        let other = Array(TestSignal.chirp(rate: 24_000, seconds: 4, seed: 7).dropFirst(24_000))
        let score = TestSignal.similarity(other, decoded).ncc
        XCTAssertLessThan(score, Self.threshold, "a wrong signal passed the similarity check (NCC \(score))")
        XCTAssertLessThan(score, 0.5)
    }

    private func roundTrip(_ format: ArchiveFormat, rate: Int, frame: Int, seconds: Double = 4,
                           settings: EncoderSettings = EncoderSettings(),
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: rate, seconds: seconds)
        let path = scratch.file("x." + format.fileExtension)
        try encodeFile(format, samples, rate: rate, to: path, settings: settings, chunks: oddChunks)
        let label = "\(format) at \(rate) Hz"

        let frameSeconds = Double(frame) / Double(rate)
        XCTAssertEqual(try Tool.playableDuration(path), seconds, accuracy: frameSeconds, label, file: file, line: line)
        let decoded = try Tool.ffmpegDecode(path, rate: rate)
        XCTAssertLessThanOrEqual(abs(decoded.count - samples.count), frame,
                                 "\(label): \(decoded.count) samples decoded for \(samples.count)", file: file, line: line)
        let (score, lag) = TestSignal.similarity(samples, decoded)
        XCTAssertGreaterThanOrEqual(score, Self.threshold, "\(label): NCC \(score) at lag \(lag)", file: file, line: line)
        print("\(label): NCC \(String(format: "%.4f", score)) at lag \(lag), \(decoded.count)/\(samples.count) samples")
    }
}

extension Array {
    func windows(ofCount count: Int) -> [ArraySlice<Element>] {
        guard self.count >= count else { return [] }
        return (0...(self.count - count)).map { self[$0..<$0 + count] }
    }
}
