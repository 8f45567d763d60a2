import XCTest
@testable import SpeakdDecoding
import SpeakdCore

/// Each container, made by its reference encoder, decodes to the source: same format, the right length, the same
/// waveform (correlation), whatever the pieces the bytes arrive in.
final class ContainerDecoderTests: XCTestCase {
    private let formats = [PCMFormat(sampleRate: 24_000), PCMFormat(sampleRate: 44_100, channels: 2),
                           PCMFormat(sampleRate: 16_000, channels: 2), PCMFormat(sampleRate: 48_000)]

    /// - Parameters:
    ///   - slack: frames the decoded length may differ by (the codec's own delay and padding).
    ///   - minimumCorrelation: per channel, at the best lag.
    private func check(_ container: String, label: String?, slack: Int, maxLag: Int, minimumCorrelation: Double,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        for format in formats {
            let source = Fixtures.tone(440, format: format, seconds: 1.0)
            let encoded = try Fixtures.encode(source, format: format, as: container)
            let decoded = try Fixtures.decode(encoded, label: AudioLabel(contentType: label))
            let name = "\(container) \(format)"
            // Opus is decoded at 48 kHz when its rate is not one of Opus's own.
            let expectedRate = container == "opus" && ![8_000, 12_000, 16_000, 24_000, 48_000].contains(format.sampleRate)
                ? 48_000 : format.sampleRate
            XCTAssertEqual(decoded.format, PCMFormat(sampleRate: expectedRate, channels: format.channels), name, file: file, line: line)
            let expectedFrames = source.count / format.channels * expectedRate / format.sampleRate
            let frames = decoded.samples.count / format.channels
            XCTAssertEqual(decoded.samples.count % format.channels, 0, name, file: file, line: line)
            XCTAssertLessThanOrEqual(abs(frames - expectedFrames), slack, "\(name): \(frames) frames for \(expectedFrames)", file: file, line: line)
            guard expectedRate == format.sampleRate else { continue }
            for channel in 0..<format.channels {
                let best = Fixtures.bestLag(decoded: Fixtures.channel(channel, of: decoded.samples, channels: format.channels),
                                            source: Fixtures.channel(channel, of: source, channels: format.channels), maxLag: maxLag)
                XCTAssertGreaterThan(best.correlation, minimumCorrelation, "\(name) channel \(channel) (lag \(best.lag))", file: file, line: line)
            }
            // Any chunking gives the very same samples.
            for seed in 1...3 {
                let pieces = try Fixtures.decode(encoded, label: AudioLabel(contentType: label), pieces: Fixtures.randomPieces(seed: UInt64(seed)))
                XCTAssertEqual(pieces, decoded, "\(name): pieces of seed \(seed) decode differently", file: file, line: line)
            }
            let bytewise = try Fixtures.decode(encoded, label: AudioLabel(contentType: label), pieces: [1])
            XCTAssertEqual(bytewise, decoded, "\(name): byte by byte decodes differently", file: file, line: line)
        }
    }

    func testFLACIsBitExactInAnyPieces() throws {
        try check("flac", label: "audio/flac", slack: 0, maxLag: 0, minimumCorrelation: 0.9999)
        let format = PCMFormat(sampleRate: 22_050, channels: 2)
        let source = Fixtures.tone(300, format: format, seconds: 0.7)
        XCTAssertEqual(try Fixtures.decode(try Fixtures.encode(source, format: format, as: "flac"), label: AudioLabel(contentType: nil),
                                           pieces: [3, 1000, 7]).samples, source)
    }

    func testWAVIsBitExactInAnyPieces() throws {
        try check("wav", label: "audio/wav", slack: 0, maxLag: 0, minimumCorrelation: 0.9999)
    }

    func testOggOpusHasTheExactLengthAndTheWaveform() throws {
        // Opus is lossy and its pre-skip is dropped: the waveform lines up at lag 0 (±a few samples of filter delay).
        try check("opus", label: "audio/ogg", slack: 2, maxLag: 8, minimumCorrelation: 0.95)
    }

    func testMP3DecodesWithTheEncodersDelay() throws {
        // lame writing to a pipe cannot go back for its gapless header: the decoder delay and padding stay
        // (at most ~2 frames of 1152).
        try check("mp3", label: "audio/mpeg", slack: 2_600, maxLag: 2_600, minimumCorrelation: 0.95)
    }

    func testContainersAreRecognisedByTheirBytesWhateverTheLabel() throws {
        let format = PCMFormat(sampleRate: 24_000)
        let source = Fixtures.tone(440, format: format, seconds: 0.3)
        for container in ["flac", "opus", "wav"] {
            let encoded = try Fixtures.encode(source, format: format, as: container)
            for label in [nil, "audio/pcm", "application/octet-stream"] {
                let decoder = UpstreamAudioDecoder(label: AudioLabel(contentType: label))
                _ = try decoder.push(encoded)
                _ = try decoder.finish()
                XCTAssertEqual(decoder.kind, ["flac": "FLAC", "opus": "Ogg Opus", "wav": "WAV"][container], "\(container) as \(label ?? "none")")
            }
        }
    }

    func testBareMPEGFramesAreDecodedOnlyWhenLabelledMP3() throws {
        let format = PCMFormat(sampleRate: 24_000)
        let encoded = try Fixtures.encode(Fixtures.tone(440, format: format, seconds: 0.3), format: format, as: "mp3")
        XCTAssertEqual(encoded.prefix(2).first, 0xFF, "lame wrote a tag first: this test wants a bare frame sync")
        let mp3 = UpstreamAudioDecoder(label: AudioLabel(contentType: "audio/mpeg"))
        _ = try mp3.push(encoded)
        XCTAssertEqual(mp3.kind, "MP3")
        let raw = UpstreamAudioDecoder(label: AudioLabel(contentType: "audio/pcm"))
        _ = try raw.push(encoded)
        XCTAssertEqual(raw.kind, "raw PCM (s16le)", "a 2-byte sync in unlabelled bytes is PCM")
    }

    /// Streaming: most of the audio comes out while the body is still arriving, not at `finish`.
    func testAudioComesOutBeforeTheBodyEnds() throws {
        let format = PCMFormat(sampleRate: 24_000)
        let source = Fixtures.tone(440, format: format, seconds: 4.0)
        for (container, label) in [("mp3", "audio/mpeg"), ("opus", "audio/ogg"), ("flac", "audio/flac"), ("wav", "audio/wav")] {
            let encoded = try Fixtures.encode(source, format: format, as: container)
            let decoder = UpstreamAudioDecoder(label: AudioLabel(contentType: label))
            var early = 0
            for start in stride(from: 0, to: encoded.count * 3 / 4, by: 1_000) {
                early += try decoder.push(Array(encoded[start..<min(start + 1_000, encoded.count * 3 / 4)])).reduce(0) { $0 + $1.samples.count }
            }
            XCTAssertGreaterThan(Double(early), 0.5 * Double(source.count), "\(container): only \(early) of \(source.count) samples before the last quarter of the body")
        }
    }
}
