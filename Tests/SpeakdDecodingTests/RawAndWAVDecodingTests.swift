import XCTest
@testable import SpeakdDecoding
import SpeakdCore

/// Raw PCM and WAV, as servers stream them: any chunking, either byte order, stereo, headers split anywhere,
/// lookalikes of other formats, and refusals that say what arrived.
final class RawAndWAVDecodingTests: XCTestCase {
    private let samples: [Int16] = [0, 1, -1, 32767, -32768, 12345, -2, 258]
    private var bytes: [UInt8] { Fixtures.littleEndianBytes(samples) }

    private func decodeAll(_ chunks: [[UInt8]], label: AudioLabel = AudioLabel(contentType: "audio/pcm")) throws -> DecodedPCM {
        let decoder = UpstreamAudioDecoder(label: label)
        var runs: [DecodedPCM] = []
        for chunk in chunks { runs += try decoder.push(chunk) }
        runs += try decoder.finish()
        return DecodedPCM(format: runs.first?.format ?? decoder.format, samples: runs.flatMap(\.samples))
    }

    private func split(_ data: [UInt8], every size: Int) -> [[UInt8]] {
        stride(from: 0, to: data.count, by: size).map { Array(data[$0..<min($0 + size, data.count)]) }
    }

    func testEveryChunkingGivesTheSameSamples() throws {
        for size in 1...bytes.count {
            XCTAssertEqual(try decodeAll(split(bytes, every: size)).samples, samples, "chunk size \(size)")
        }
    }

    func testStereoIsDeliveredInWholeFramesOnly() throws {
        let decoder = UpstreamAudioDecoder(label: AudioLabel(contentType: "audio/pcm;rate=44100;channels=2"))
        var total: [Int16] = []
        for chunk in split(bytes + bytes, every: 6) {
            for run in try decoder.push(chunk) {
                XCTAssertEqual(run.format, PCMFormat(sampleRate: 44_100, channels: 2))
                XCTAssertEqual(run.samples.count % 2, 0, "a run ends inside a frame")
                total += run.samples
            }
        }
        total += try decoder.finish().flatMap(\.samples)
        XCTAssertEqual(total, samples + samples)
    }

    func testL16IsBigEndian() throws {
        let bigEndian = samples.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
        let label = AudioLabel(contentType: "audio/L16;rate=16000;channels=1")
        let result = try decodeAll(split(bigEndian, every: 3), label: label)
        XCTAssertEqual(result.samples, samples)
        XCTAssertEqual(result.format, PCMFormat(sampleRate: 16_000))
    }

    func testAHalfSampleOrFrameAtTheEndIsAnError() {
        XCTAssertThrowsError(try decodeAll([Array(bytes.dropLast())]))
        XCTAssertThrowsError(try decodeAll([Array(bytes.dropLast(2))], label: AudioLabel(contentType: "audio/pcm;channels=2"))) {
            XCTAssertTrue("\($0)".contains("middle of a frame"), "\($0)")
        }
    }

    private func wavHeader(rate: Int, channels: Int = 1, bits: Int = 16, extraChunk: Bool = false, dataSize: Int = -1) -> [UInt8] {
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        var header = Array("RIFF".utf8) + le32(dataSize < 0 ? -1 : dataSize + 36) + Array("WAVE".utf8)
        header += Array("fmt ".utf8) + le32(16) + le16(1) + le16(channels) + le32(rate) + le32(rate * channels * bits / 8)
            + le16(channels * bits / 8) + le16(bits)
        if extraChunk { header += Array("LIST".utf8) + le32(3) + [1, 2, 3, 0] }
        return header + Array("data".utf8) + le32(dataSize)
    }

    func testAWAVHeaderIsStrippedAndItsFormatUsedEvenWhenSplit() throws {
        let stream = wavHeader(rate: 44_100, channels: 2, extraChunk: true) + bytes
        for size in [1, 5, 13, 44, 1000] {
            let result = try decodeAll(split(stream, every: size), label: AudioLabel(contentType: "audio/pcm"))
            XCTAssertEqual(result.samples, samples, "chunk size \(size)")
            XCTAssertEqual(result.format, PCMFormat(sampleRate: 44_100, channels: 2))
        }
    }

    /// Older Kokoro: a complete RIFF header, with exact sizes, in front of every piece.
    func testAHeaderInFrontOfEveryPieceIsStrippedEachTime() throws {
        let piece = wavHeader(rate: 24_000, dataSize: bytes.count) + bytes
        for size in [1, 7, 52, 1000] {
            XCTAssertEqual(try decodeAll(split(piece + piece + piece, every: size)).samples, samples + samples + samples, "chunk size \(size)")
        }
    }

    func testWhatIsNotAudioIsRefusedByName() {
        let cases: [([UInt8], String?, String)] = [
            (Array(#"{"error":"no such voice"}"#.utf8), "audio/pcm", "text instead of audio"),
            (Array("<!DOCTYPE html><html>".utf8), nil, "text instead of audio"),
            (Array(#"{"error":"no"}"#.utf8), "application/json", "application/json is not audio"),
            (Array("Internal error, sorry about that".utf8), "text/plain; charset=utf-8", "text/plain is not audio"),
            (bytes + bytes, "audio/aac", "audio/aac is not audio speakd can decode"),
            (wavHeader(rate: 24_000, bits: 8), "audio/wav", "not 16-bit"),
            (Array("OggS".utf8) + [UInt8](repeating: 0, count: 40), nil, "Ogg"),
        ]
        for (data, contentType, expected) in cases {
            XCTAssertThrowsError(try decodeAll([data], label: AudioLabel(contentType: contentType)), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    /// Audio whose first sample happens to look like "{" or an MP3 frame sync is audio.
    func testPCMThatStartsLikeASignatureIsStillPCM() throws {
        let lookalikes: [[UInt8]] = [
            [0x7B, 0x40, 0x80, 0x10, 0x00, 0x01, 0xFF, 0xFF, 0x7B, 0x22, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            [0xFF, 0xFB, 0x90, 0x64, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B],
            Array(Array(#"{"a": 1, "b": 2}"#.utf8).prefix(14)) + [0x00, 0x80],
        ]
        for data in lookalikes {
            XCTAssertEqual(try decodeAll([data]).samples.count, data.count / 2, "\(data)")
        }
    }

    func testShortBodiesAreSamples() throws {
        XCTAssertEqual(try decodeAll([[1, 0]]).samples, [1])
        XCTAssertEqual(try decodeAll([[]]).samples, [])
    }
}
