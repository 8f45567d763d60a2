import XCTest
@testable import SpeakdAudio
@testable import SpeakdSynthesis

final class PCMStreamDecoderTests: XCTestCase {
    private let samples: [Int16] = [0, 1, -1, 32767, -32768, 12345, -2, 258]
    private var bytes: [UInt8] { samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] } }

    private func decodeAll(_ chunks: [[UInt8]], format: PCMFormat = .openAISpeech) throws -> (samples: [Int16], format: PCMFormat) {
        var decoder = PCMStreamDecoder(format: format)
        var out: [Int16] = []
        for chunk in chunks { out += try decoder.decode(chunk) }
        out += try decoder.finish()
        return (out, decoder.format)
    }

    func testEveryChunkingGivesTheSameSamples() throws {
        let data = bytes
        for size in 1...data.count {
            let chunks = stride(from: 0, to: data.count, by: size).map { Array(data[$0..<min($0 + size, data.count)]) }
            XCTAssertEqual(try decodeAll(chunks).samples, samples, "chunk size \(size)")
        }
    }

    func testAHalfSampleAtTheEndIsAnError() {
        XCTAssertThrowsError(try decodeAll([Array(bytes.dropLast())])) { error in
            XCTAssertEqual((error as? SynthesisError)?.kind, .badAudio)
        }
    }

    private func wavHeader(rate: Int, channels: Int = 1, bits: Int = 16, extraChunk: Bool = false) -> [UInt8] {
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        var header = Array("RIFF".utf8) + le32(-1) + Array("WAVE".utf8)
        header += Array("fmt ".utf8) + le32(16) + le16(1) + le16(channels) + le32(rate) + le32(rate * channels * bits / 8)
            + le16(channels * bits / 8) + le16(bits)
        if extraChunk { header += Array("LIST".utf8) + le32(3) + [1, 2, 3, 0] }
        return header + Array("data".utf8) + le32(-1)
    }

    func testAWAVHeaderIsStrippedAndItsRateUsedEvenWhenSplit() throws {
        let stream = wavHeader(rate: 22_050, extraChunk: true) + bytes
        for size in [1, 5, 13, 44, 1000] {
            let chunks = stride(from: 0, to: stream.count, by: size).map { Array(stream[$0..<min($0 + size, stream.count)]) }
            let result = try decodeAll(chunks)
            XCTAssertEqual(result.samples, samples, "chunk size \(size)")
            XCTAssertEqual(result.format, PCMFormat(sampleRate: 22_050))
        }
    }

    func testOtherContainersAreRefusedByName() {
        let cases: [([UInt8], String)] = [
            (Array("ID3".utf8) + [4, 0, 0, 0] + [UInt8](repeating: 0, count: 12), "MP3"),
            (Array("OggS".utf8) + [UInt8](repeating: 0, count: 12), "Ogg"),
            (Array("fLaC".utf8) + [UInt8](repeating: 0, count: 12), "FLAC"),
            (Array(#"{"error":"no such voice"}"#.utf8), "text"),
            (Array("<!DOCTYPE html><html>".utf8), "text"),
            (wavHeader(rate: 24_000, bits: 8), "not 16-bit"),
        ]
        for (data, expected) in cases {
            XCTAssertThrowsError(try decodeAll([data]), expected) { error in
                XCTAssertTrue((error as? SynthesisError)?.message.contains(expected) == true, "\(error)")
            }
        }
    }

    /// Audio whose first sample happens to look like "{" or an MP3 frame sync is audio.
    func testPCMThatStartsLikeASignatureIsStillPCM() throws {
        let lookalikes: [[UInt8]] = [
            [0x7B, 0x40, 0x80, 0x10, 0x00, 0x01, 0xFF, 0xFF, 0x7B, 0x22, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            [0xFF, 0xFB, 0x90, 0x64, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B],
            Array(#"{"a": 1, "b": 2}"#.utf8).prefix(14) + [0x00, 0x80],
        ]
        for bytes in lookalikes {
            XCTAssertEqual(try decodeAll([bytes]).samples.count, bytes.count / 2, "\(bytes)")
        }
    }

    func testContentTypesOtherThanPCMAreNamed() {
        XCTAssertNil(OpenAISpeechClient.nonPCMContentType("audio/pcm;rate=22050"))
        XCTAssertNil(OpenAISpeechClient.nonPCMContentType("application/octet-stream"))
        XCTAssertNil(OpenAISpeechClient.nonPCMContentType("audio/wav"))
        XCTAssertNil(OpenAISpeechClient.nonPCMContentType(nil))
        XCTAssertEqual(OpenAISpeechClient.nonPCMContentType("audio/mpeg"), "audio/mpeg (Content-Type)")
        XCTAssertEqual(OpenAISpeechClient.nonPCMContentType("application/json; charset=utf-8"), "application/json (Content-Type)")
    }

    func testShortBodiesAreSamples() throws {
        XCTAssertEqual(try decodeAll([[1, 0]]).samples, [1])
    }
}

final class UpstreamErrorBodyTests: XCTestCase {
    private func parse(_ text: String) -> UpstreamErrorBody.Parsed { UpstreamErrorBody.parse(Array(text.utf8)) }

    func testKnownShapes() {
        XCTAssertEqual(parse(#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#),
                       .init(message: "Incorrect API key provided", code: "invalid_api_key"))
        XCTAssertEqual(parse(#"{"detail":{"error":"validation_error","message":"Voice 'x' not found","type":"invalid_request_error"}}"#),
                       .init(message: "Voice 'x' not found", code: "invalid_request_error"))
        XCTAssertEqual(parse(#"{"detail":"Model not found"}"#).message, "Model not found")
        XCTAssertEqual(parse(#"{"detail":[{"loc":["body","speed"],"msg":"too big","type":"x"}]}"#).message, "body.speed: too big")
        XCTAssertEqual(parse("  Bad Gateway\n").message, "Bad Gateway")
        XCTAssertEqual(parse("").message, "(empty body)")
    }
}
