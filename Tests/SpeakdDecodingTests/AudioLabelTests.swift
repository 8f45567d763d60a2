import XCTest
@testable import SpeakdDecoding
import SpeakdCore

/// How responses label their audio: the Content-Type's type and parameters, and the servers' own headers.
final class AudioLabelTests: XCTestCase {
    func testLabelsAsServersSendThem() {
        typealias Row = (contentType: String?, headers: [(String, String)], container: AudioLabel.Container, rate: Int?, channels: Int?)
        let table: [Row] = [
            ("audio/pcm", [], .raw(bigEndian: false), nil, nil),
            ("audio/pcm;rate=22050", [], .raw(bigEndian: false), 22_050, nil),
            ("audio/pcm; rate=16000; channels=2", [], .raw(bigEndian: false), 16_000, 2),
            ("audio/L16;rate=44100;channels=2", [], .raw(bigEndian: true), 44_100, 2),
            ("AUDIO/L16; RATE=48000", [], .raw(bigEndian: true), 48_000, nil),
            ("audio/L16;rate=24000;endianness=little-endian", [], .raw(bigEndian: false), 24_000, nil),
            ("audio/pcm_s16le", [], .raw(bigEndian: false), nil, nil),
            ("audio/raw", [("X-Sample-Rate", "22050")], .raw(bigEndian: false), 22_050, nil),
            ("application/octet-stream", [("x-audio-sample-rate", "16000"), ("X-Channels", "2")], .raw(bigEndian: false), 16_000, 2),
            (nil, [("sample-rate", "44100")], .raw(bigEndian: false), 44_100, nil),
            (nil, [("X-SampleRate", " 48000 "), ("X-Audio-Channel-Count", "1")], .raw(bigEndian: false), 48_000, 1),
            // A rate in the Content-Type beats one in another header.
            ("audio/pcm;rate=24000", [("X-Sample-Rate", "16000")], .raw(bigEndian: false), 24_000, nil),
            // Rate-limit headers are not sample rates, whatever their value.
            ("audio/pcm", [("x-ratelimit-limit-requests", "50000"), ("X-Rate-Limit-Limit", "24000")], .raw(bigEndian: false), nil, nil),
            // Implausible values are ignored.
            ("audio/pcm;rate=99", [("X-Channels", "0")], .raw(bigEndian: false), nil, nil),
            ("audio/wav", [], .wav, nil, nil),
            ("audio/x-wav", [], .wav, nil, nil),
            ("audio/mpeg", [], .mp3, nil, nil),
            ("audio/ogg; codecs=opus", [], .ogg, nil, nil),
            ("audio/opus", [], .ogg, nil, nil),
            ("audio/flac", [], .flac, nil, nil),
            ("audio/aac", [], .otherAudio, nil, nil),
            ("application/json; charset=utf-8", [], .notAudio, nil, nil),
            ("text/html", [], .notAudio, nil, nil),
        ]
        for row in table {
            let label = AudioLabel(contentType: row.contentType, headers: row.headers)
            let name = "\(row.contentType ?? "no Content-Type") \(row.headers)"
            XCTAssertEqual(label.container, row.container, name)
            XCTAssertEqual(label.sampleRate, row.rate, name)
            XCTAssertEqual(label.channels, row.channels, name)
        }
    }

    func testTheRateSourceIsNamed() {
        XCTAssertEqual(AudioLabel(contentType: "audio/pcm;rate=22050").rateSource, "Content-Type rate=")
        XCTAssertEqual(AudioLabel(contentType: nil, headers: [("X-Sample-Rate", "22050")]).rateSource, "header X-Sample-Rate")
    }

    func testOverridesBeatLabelsForRawPCMOnly() throws {
        let label = AudioLabel(contentType: "audio/pcm;rate=22050;channels=1")
        XCTAssertEqual(UpstreamAudioDecoder(label: label).format, PCMFormat(sampleRate: 22_050))
        let overridden = UpstreamAudioDecoder(label: label, sampleRateOverride: 16_000, channelsOverride: 2)
        XCTAssertEqual(overridden.format, PCMFormat(sampleRate: 16_000, channels: 2))
        XCTAssertEqual(UpstreamAudioDecoder(label: AudioLabel(contentType: nil)).format, .openAISpeech)
    }
}

