import Foundation
import XCTest
@testable import SpeakdEncoding
import SpeakdCore

/// FLAC and WAV decoded by independent tools must give back exactly the samples sent.
final class LosslessRoundTripTests: XCTestCase {
    /// Loud noise on top of the chirp: a lossless codec's predictor cannot cheat on it.
    let signal = TestSignal.chirp(rate: 24_000, seconds: 4, noise: 0.2)
    /// Odd sizes, 1 sample, more than libFLAC's block size: the encoders buffer across calls.
    let oddChunks = [1, 7, 333, 4097, 2, 10_000, 4607]

    func testFLACDecodedByFlacIsBitIdentical() throws {
        let scratch = try ScratchDirectory()
        for level in [0, 5, 8] {
            let path = scratch.file("level\(level).flac")
            try encodeFile(.flac, signal, rate: 24_000, to: path,
                           settings: EncoderSettings(flac: FLACSettings(compressionLevel: level)), chunks: oddChunks)
            let raw = scratch.file("level\(level).raw")
            try Tool.run("flac", ["-d", "-s", "-f", "--force-raw-format", "--endian=little", "--sign=signed",
                                  "-o", raw, path])
            let decoded = Tool.samples(try Data(contentsOf: URL(fileURLWithPath: raw)))
            XCTAssertEqual(decoded.count, signal.count, "level \(level)")
            XCTAssertTrue(decoded == signal, "level \(level): decoded samples differ")
            // `flac -t` checks every frame's CRC and the MD5 in STREAMINFO against the decoded audio.
            try Tool.run("flac", ["-t", "-s", path])
        }
    }

    func testFLACStreamInfoHoldsTotalSamplesAndMD5() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("info.flac")
        try encodeFile(.flac, signal, rate: 24_000, to: path, chunks: oddChunks)
        let info = String(decoding: try Tool.run("metaflac", ["--show-total-samples", "--show-md5sum",
                                                              "--show-sample-rate", path]), as: UTF8.self)
        let lines = info.split(separator: "\n")
        XCTAssertEqual(lines.first.map(String.init), String(signal.count))
        XCTAssertNotEqual(lines.dropFirst().first.map(String.init), String(repeating: "0", count: 32))
        XCTAssertEqual(lines.last.map(String.init), "24000")
    }

    func testFLACToASinkThatCannotSeekIsStillExact() throws {
        let scratch = try ScratchDirectory()
        let sink = StreamOnlySink()
        let encoder = try FLACEncoder(input: .init(sampleRate: 22_050), sink: sink)
        let samples = TestSignal.chirp(rate: 22_050, seconds: 2, noise: 0.2)
        try encoder.encode(samples, chunks: oddChunks)
        try encoder.finish()
        let path = scratch.file("streamed.flac")
        try writeBytes(sink.memory.bytes, to: path)
        try Tool.run("flac", ["-t", "-s", path])
        XCTAssertTrue(try Tool.ffmpegDecode(path, rate: 22_050) == samples)
    }

    func testWAVDecodedByFFmpegIsBitIdentical() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("x.wav")
        try encodeFile(.wav, signal, rate: 24_000, to: path, chunks: oddChunks)
        let decoded = try Tool.ffmpegDecode(path, rate: 24_000)
        XCTAssertEqual(decoded.count, signal.count)
        XCTAssertTrue(decoded == signal)
        // The sizes in the header are exact, not the streaming placeholder.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes.count, 44 + signal.count * 2)
        XCTAssertEqual(bytes[40..<44].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }, UInt32(signal.count * 2))
        XCTAssertEqual(bytes[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }, UInt32(36 + signal.count * 2))
        XCTAssertEqual(try Tool.duration(path), Double(signal.count) / 24_000, accuracy: 0.001)
    }

    func testWAVStreamedWithoutSeekingDecodes() throws {
        let scratch = try ScratchDirectory()
        let sink = StreamOnlySink()
        let encoder = try WAVEncoder(input: .init(sampleRate: 16_000), sink: sink)
        let samples = TestSignal.chirp(rate: 16_000, seconds: 1)
        try encoder.encode(samples, chunks: oddChunks)
        try encoder.finish()
        let path = scratch.file("streamed.wav")
        try writeBytes(sink.memory.bytes, to: path)
        XCTAssertTrue(try Tool.ffmpegDecode(path, rate: 16_000) == samples)
    }
}
