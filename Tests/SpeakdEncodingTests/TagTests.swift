import Foundation
import XCTest
@testable import SpeakdEncoding
import SpeakdCore

/// Tags as ffprobe reads them: ID3v2.4 in mp3, Vorbis comments in Ogg Opus (stream tags) and FLAC.
final class TagTests: XCTestCase {
    let text = "Grüße aus der Küche: the washing machine has finished. " + String(repeating: "Lorem ipsum. ", count: 30)
    var tags: Tags {
        Tags(text: text, voice: "nova", model: "gpt-4o-mini-tts", engine: "openai",
             date: Date(timeIntervalSince1970: 1_764_000_000))
    }

    func testTagsReadableByFFprobeInEveryTaggedFormat() throws {
        let samples = TestSignal.chirp(rate: 24_000, seconds: 1)
        for format in [ArchiveFormat.mp3, .opus, .flac] {
            let scratch = try ScratchDirectory()
            let path = scratch.file("tagged." + format.fileExtension)
            try encodeFile(format, samples, rate: 24_000, to: path, tags: tags)
            let read = try Tool.tags(path)
            XCTAssertEqual(read["title"], String(text.prefix(200)), "\(format): \(read)")
            XCTAssertEqual(read["voice"], "nova", "\(format): \(read)")
            XCTAssertEqual(read["model"], "gpt-4o-mini-tts", "\(format): \(read)")
            XCTAssertEqual(read["engine"], "openai", "\(format): \(read)")
            XCTAssertEqual(read["date"], "2025-11-24T16:00:00Z", "\(format): \(read)")
        }
    }

    func testTitleKeepsTheFirst200Characters() {
        let title = tags.fields.first { $0.name == "TITLE" }?.value
        XCTAssertEqual(title?.count, 200)
        XCTAssertTrue(text.hasPrefix(title ?? "-"))
    }

    func testEmptyTagsWriteNoTagBlock() throws {
        XCTAssertEqual(ID3v2Tag.bytes(for: Tags()), [])
        XCTAssertEqual(Tags(voice: "").fields.count, 0)
    }

    func testID3v2HeaderIsVersion4WithSynchsafeSize() {
        let bytes = ID3v2Tag.bytes(for: Tags(text: String(repeating: "x", count: 200)))
        XCTAssertEqual(Array(bytes[0..<5]), Array("ID3".utf8) + [4, 0])
        let size = bytes[6..<10].reduce(0) { $0 << 7 | Int($1) }
        XCTAssertEqual(size, bytes.count - 10)
        XCTAssertTrue(bytes[6..<10].allSatisfy { $0 < 0x80 })
    }
}
