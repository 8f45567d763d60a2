import XCTest
import SpeakdCore
@testable import SpeakdEncoding

/// Inputs the cache-entry fuzzer (scripts/fuzz cache-entry) found mishandled, kept as regression tests.
final class FLACDecoderFuzzFindingsTests: XCTestCase {
    /// A bit flipped in STREAMINFO's sample rate (bytes 18–20; STREAMINFO has no checksum, the MD5 covers only the
    /// samples) decoded as the right samples at 32192 Hz: played too fast. Each frame header states the rate under
    /// its CRC-8, so the mismatch is now corrupt.
    func testDamagedStreamInfoSampleRateIsCorrupt() throws {
        let sink = MemorySink()
        let encoder = try FLACEncoder(input: .openAISpeech, sink: sink)
        let samples = (0..<2_400).map { Int16(truncatingIfNeeded: ($0 * 37) % 4_000 - 2_000) }
        try samples.withUnsafeBufferPointer { buffer throws(EncoderError) in try encoder.encode(buffer) }
        try encoder.finish()
        XCTAssertEqual(try FLACDecoder.decode(sink.bytes).format, .openAISpeech)
        var damaged = sink.bytes
        XCTAssertEqual(Array(damaged[18...20]), [0x05, 0xDC, 0x00 | (damaged[20] & 0x0F)], "24000 Hz in STREAMINFO")
        damaged[18] ^= 0x02   // 24000 Hz -> 32192 Hz
        XCTAssertThrowsError(try FLACDecoder.decode(damaged)) { error in
            XCTAssertEqual((error as? EncoderError)?.kind, .corrupt, "\(error)")
        }
    }
}
