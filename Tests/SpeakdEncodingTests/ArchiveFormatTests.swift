import XCTest
@testable import SpeakdEncoding
import SpeakdCore

final class ArchiveFormatTests: XCTestCase {
    func testFormatFromExtensionAndName() {
        XCTAssertEqual(ArchiveFormat(path: "/tmp/greeting.mp3"), .mp3)
        XCTAssertEqual(ArchiveFormat(path: "a.b.OPUS"), .opus)
        XCTAssertEqual(ArchiveFormat(path: "x.ogg"), .opus)
        XCTAssertEqual(ArchiveFormat(path: "x.flac"), .flac)
        XCTAssertEqual(ArchiveFormat(path: "x.wav"), .wav)
        XCTAssertNil(ArchiveFormat(path: "x.aac"))
        XCTAssertNil(ArchiveFormat(path: "noextension"))
        XCTAssertNil(ArchiveFormat(path: "dir.mp3/file"))
        XCTAssertEqual(ArchiveFormat(name: "Wave"), .wav)
        XCTAssertEqual(ArchiveFormat(name: "ogg"), .opus)
        XCTAssertNil(ArchiveFormat(name: ""))
    }

    func testOutOfRangeSettingsAreRefusedWithTheReason() {
        let sink = MemorySink()
        let speech = PCMFormat(sampleRate: 24_000)
        assertRefused("libmp3lame refused VBR quality 12: it goes from 0 (best) to 9 (smallest)") {
            _ = try MP3Encoder(input: speech, settings: MP3Settings(mode: .vbr(quality: 12)), sink: sink)
        }
        assertRefused("libmp3lame refused CBR 320 kbit/s at 24000 Hz: the rates there are 8, 16, 24, 32, 40, 48, 56, "
                      + "64, 80, 96, 112, 128, 144, 160") {
            _ = try MP3Encoder(input: speech, settings: MP3Settings(mode: .cbr(kbps: 320)), sink: sink)
        }
        assertRefused("libopus refused bit rate 100 bit/s: it takes 500 … 512000") {
            _ = try OggOpusEncoder(input: speech, settings: OpusSettings(bitrate: 100), sink: sink)
        }
        assertRefused("libFLAC compression level must be 0…8, not 9") {
            _ = try FLACEncoder(input: speech, settings: FLACSettings(compressionLevel: 9), sink: sink)
        }
        assertRefused("wav archives take mono or stereo PCM, not 3 channels") {
            _ = try WAVEncoder(input: PCMFormat(sampleRate: 24_000, channels: 3), sink: sink)
        }
    }

    func testUseAfterFinishIsMisuse() throws {
        for format in ArchiveFormat.allCases {
            let encoder = try format.makeEncoder(input: .init(sampleRate: 16_000), sink: MemorySink())
            try encoder.encode([1, 2, 3])
            try encoder.finish()
            XCTAssertThrowsError(try encoder.encode([1])) { XCTAssertEqual(($0 as? EncoderError)?.kind, .misuse) }
            XCTAssertThrowsError(try encoder.finish()) { XCTAssertEqual(($0 as? EncoderError)?.kind, .misuse) }
        }
    }

    func testStereoNeedsWholeFrames() throws {
        let encoder = try FLACEncoder(input: PCMFormat(sampleRate: 48_000, channels: 2), sink: MemorySink())
        XCTAssertThrowsError(try encoder.encode([1, 2, 3])) { XCTAssertEqual(($0 as? EncoderError)?.kind, .misuse) }
    }

    private func assertRefused(_ message: String, file: StaticString = #filePath, line: UInt = #line,
                               _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? EncoderError)?.kind, .invalidSettings, file: file, line: line)
            XCTAssertEqual((error as? EncoderError)?.message, message, file: file, line: line)
        }
    }
}
