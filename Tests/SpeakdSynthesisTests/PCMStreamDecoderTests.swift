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
            (Array("ID3".utf8) + [4, 0, 0, 0], "MP3"),
            ([0xFF, 0xFB, 0x90, 0x64], "MP3"),
            (Array("OggS".utf8) + [0, 2], "Ogg"),
            (Array("fLaC".utf8), "FLAC"),
            (Array(#"{"error":"x"}"#.utf8), "text"),
            (wavHeader(rate: 24_000, bits: 8), "not 16-bit"),
        ]
        for (data, expected) in cases {
            XCTAssertThrowsError(try decodeAll([data]), expected) { error in
                XCTAssertTrue((error as? SynthesisError)?.message.contains(expected) == true, "\(error)")
            }
        }
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

final class TextSegmenterTests: XCTestCase {
    func testShortTextIsOneSegment() {
        XCTAssertEqual(TextSegmenter().segments(of: "Hello. World!"), ["Hello. World!"])
        XCTAssertEqual(TextSegmenter().segments(of: "  \n "), [])
    }

    func testSentencesAreKeptWhole() {
        let cases: [(Int, String, [String])] = [
            (40, "First sentence here. Second sentence here. Third one.", ["First sentence here.", "Second sentence here. Third one."]),
            (50, "Dr. Smith met Mr. Jones at 3.14 p.m. today. Then they left.", ["Dr. Smith met Mr. Jones at 3.14 p.m. today.", "Then they left."]),
            (40, "He said \"Stop.\" Then he left the room quietly.", ["He said \"Stop.\"", "Then he left the room quietly."]),
            (16, "今日は晴れです。明日は雨が降るでしょう。明後日は曇りです。", ["今日は晴れです。", "明日は雨が降るでしょう。", "明後日は曇りです。"]),
            (20, "A list item\nAnother item\n\nNew paragraph", ["A list item", "Another item", "New paragraph"]),
        ]
        for (limit, text, expected) in cases {
            XCTAssertEqual(TextSegmenter(maxCharacters: limit).segments(of: text), expected, text)
        }
    }

    func testNoSegmentExceedsTheLimitAndNoWordIsCut() {
        let segmenter = TextSegmenter(maxCharacters: 30)
        let text = "a rather long run of words with no punctuation at all that just keeps going on and on"
        let segments = segmenter.segments(of: text)
        XCTAssertGreaterThan(segments.count, 2)
        for segment in segments { XCTAssertLessThanOrEqual(segment.unicodeScalars.count, 30, segment) }
        XCTAssertEqual(segments.joined(separator: " "), text)
        let clauses = segmenter.segments(of: "one two three four five six, seven eight nine ten")
        XCTAssertEqual(clauses.first, "one two three four five six,")
    }

    func testAWordLongerThanTheLimitIsSplitBetweenCharacters() {
        let segments = TextSegmenter(maxCharacters: 16).segments(of: String(repeating: "é", count: 40))
        XCTAssertEqual(segments.map { $0.unicodeScalars.count }, [16, 16, 8])
    }

    func testLongTextAtTheRealLimit() {
        let text = (1...1000).map { "Sentence \($0) says something." }.joined(separator: " ")
        let segments = TextSegmenter().segments(of: text)
        XCTAssertTrue(segments.allSatisfy { $0.unicodeScalars.count <= 4096 })
        XCTAssertEqual(segments.joined(separator: " "), text)
    }
}
