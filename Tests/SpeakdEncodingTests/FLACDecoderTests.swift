import Foundation
import XCTest
@testable import SpeakdEncoding
import SpeakdCore

/// The decoder the phrase cache reads with, checked against the reference `flac` tool in both directions.
final class FLACDecoderTests: XCTestCase {
    /// A file made by `flac` (not by our encoder) decodes to exactly the samples given to it, at its rate.
    func testDecodesTheFlacToolsOutputBitExactly() throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: 22_050, seconds: 3, noise: 0.2)
        try writeBytes(samples.withUnsafeBytes { Array($0) }, to: scratch.file("in.raw"))
        try Tool.run("flac", ["-s", "-8", "--force-raw-format", "--endian=little", "--sign=signed", "--channels=1",
                              "--bps=16", "--sample-rate=22050", "-T", "TITLE=from the tool", "-o", scratch.file("tool.flac"),
                              scratch.file("in.raw")])
        let decoded = try FLACDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("tool.flac")))))
        XCTAssertEqual(decoded.format, PCMFormat(sampleRate: 22_050))
        XCTAssertTrue(decoded.samples == samples)
        XCTAssertEqual(decoded.tags["TITLE"], "from the tool")
    }

    /// Our encoder's output, tags included, round-trips; stereo keeps its interleaving.
    func testRoundTripsOurEncoderWithTagsMonoAndStereo() throws {
        for channels in [1, 2] {
            let samples = TestSignal.chirp(rate: 24_000, seconds: 1, noise: 0.1)
            let input = channels == 1 ? samples : zip(samples, samples.reversed()).flatMap { [$0, $1] }
            let sink = MemorySink()
            var tags = Tags(text: "Round trip")
            tags.extra["SPEAKD_KEY"] = "abc"
            let encoder = try FLACEncoder(input: PCMFormat(sampleRate: 24_000, channels: channels), tags: tags, sink: sink)
            try input.withUnsafeBufferPointer { buffer throws(EncoderError) in try encoder.encode(buffer) }
            try encoder.finish()
            let decoded = try FLACDecoder.decode(sink.bytes)
            XCTAssertEqual(decoded.format.channels, channels)
            XCTAssertTrue(decoded.samples == input, "\(channels) channels")
            XCTAssertEqual(decoded.tags["TITLE"], "Round trip")
            XCTAssertEqual(decoded.tags["SPEAKD_KEY"], "abc")
        }
    }

    /// Damage anywhere is an error of kind `.corrupt`, never wrong samples.
    func testTruncationBitFlipsAndForeignBytesAreCorrupt() throws {
        let sink = MemorySink()
        let encoder = try FLACEncoder(input: .openAISpeech, sink: sink)
        let samples = TestSignal.chirp(rate: 24_000, seconds: 2, noise: 0.2)
        try samples.withUnsafeBufferPointer { buffer throws(EncoderError) in try encoder.encode(buffer) }
        try encoder.finish()
        let good = sink.bytes
        var cases: [(String, [UInt8])] = [("empty", []), ("WAV", Array("RIFF\u{24}\0\0\0WAVEfmt ".utf8)),
                                          ("header only", Array(good.prefix(42))),
                                          ("half", Array(good.prefix(good.count / 2)))]
        for position in stride(from: good.count / 10, to: good.count, by: good.count / 7) {
            var flipped = good
            flipped[position] ^= 0x10
            cases.append(("bit flip at \(position)", flipped))
        }
        for (name, bytes) in cases {
            do {
                let decoded = try FLACDecoder.decode(bytes)
                XCTFail("\(name) decoded to \(decoded.samples.count) samples")
            } catch {
                XCTAssertEqual(error.kind, .corrupt, "\(name): \(error)")
            }
        }
    }
}
