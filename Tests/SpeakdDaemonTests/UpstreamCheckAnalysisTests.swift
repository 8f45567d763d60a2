import SpeakdProtocol
import XCTest
@testable import SpeakdDaemon

/// The doctor's rules (`speakctl upstream check`), without a server.
final class UpstreamCheckAnalysisTests: XCTestCase {
    private func wavHeader(rate: Int, channels: Int, extraChunk: Bool = false) -> [UInt8] {
        func le(_ value: Int, _ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        var bytes = Array("RIFF".utf8) + le(-1, 4) + Array("WAVEfmt ".utf8) + le(16, 4) + le(1, 2) + le(channels, 2)
            + le(rate, 4) + le(rate * 2 * channels, 4) + le(2 * channels, 2) + le(16, 2)
        if extraChunk { bytes += Array("LIST".utf8) + le(3, 4) + [1, 2, 3, 0] }
        return bytes + Array("data".utf8) + le(-1, 4)
    }

    func testContainersAreSniffedFromTheFirstBytes() {
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: wavHeader(rate: 24_000, channels: 1)), "wav")
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: Array("ID3\u{4}".utf8)), "mp3")
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: [0xFF, 0xFB, 0x90, 0x64]), "mp3")
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: Array("OggS".utf8)), "ogg")
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: Array("fLaC".utf8)), "flac")
        XCTAssertEqual(UpstreamCheckAnalysis.container(of: [0x01, 0x00, 0xFF, 0x7F]), "raw")
    }

    func testTheRateComesFromTheMostTrustworthySource() {
        var headers: [(name: String, value: String)] = [("Content-Type", "audio/pcm"), ("Transfer-Encoding", "chunked")]
        var format = UpstreamCheckAnalysis.format(headers: headers, firstBytes: [1, 2, 3, 4], rateOverride: nil)
        XCTAssertEqual(format.report.sampleRate, 24_000)
        XCTAssertEqual(format.report.rateSource, "nothing (24000 Hz assumed)")
        XCTAssertTrue(format.report.chunked)

        headers = ([("Content-Type", "audio/L16; rate=16000; channels=2"), ("Content-Length", "10")])
        format = UpstreamCheckAnalysis.format(headers: headers, firstBytes: [1, 2, 3, 4], rateOverride: nil)
        XCTAssertEqual([format.report.sampleRate, format.report.channels], [16_000, 2])
        XCTAssertEqual(format.report.rateSource, "Content-Type")
        XCTAssertFalse(format.report.chunked)

        // A header of the server's own; rate-limit headers are not sample rates.
        headers = ([("Content-Type", "application/octet-stream"), ("X-Sample-Rate", "22050"),
                               ("X-Audio-Channels", "1"), ("x-ratelimit-remaining-requests", "48000")])
        format = UpstreamCheckAnalysis.format(headers: headers, firstBytes: [1, 2], rateOverride: nil)
        XCTAssertEqual(format.report.sampleRate, 22_050)
        XCTAssertEqual(format.report.rateSource, "the X-Sample-Rate header")
        XCTAssertEqual(format.report.formatHeaders, ["X-Sample-Rate: 22050", "X-Audio-Channels: 1"])

        // A WAV header beats the Content-Type; the setting beats everything.
        let wav = wavHeader(rate: 44_100, channels: 2, extraChunk: true)
        headers = ([("Content-Type", "audio/pcm;rate=24000")])
        format = UpstreamCheckAnalysis.format(headers: headers, firstBytes: wav + [0, 0], rateOverride: nil)
        XCTAssertEqual([format.report.sampleRate, format.report.channels], [44_100, 2])
        XCTAssertEqual(format.report.rateSource, "WAV header")
        XCTAssertEqual(format.dataOffset, wav.count)
        format = UpstreamCheckAnalysis.format(headers: headers, firstBytes: [1, 2], rateOverride: 22_050)
        XCTAssertEqual(format.report.sampleRate, 22_050)
        XCTAssertEqual(format.report.rateSource, "sample_rate setting")

        format = UpstreamCheckAnalysis.format(headers: ([("Content-Type", "audio/mpeg")]),
                                              firstBytes: Array("ID3".utf8), rateOverride: nil)
        XCTAssertNil(format.report.sampleRate)
        XCTAssertEqual(format.report.container, "mp3")
    }

    func testSpeechIsMeasuredWithoutTheSilenceAround() {
        // 0.1 s silence, 1 s of tone, 0.2 s silence at 24 kHz.
        let tone = (0..<24_000).map { Int16(8_000 * sin(Double($0) * 0.1)) }
        let samples = [Int16](repeating: 0, count: 2_400) + tone + [Int16](repeating: 3, count: 4_800)
        let durations = UpstreamCheckAnalysis.durations(of: samples, rate: 24_000, channels: 1)
        XCTAssertEqual(durations.audio, 1.3, accuracy: 0.001)
        XCTAssertEqual(durations.speech, 1.0, accuracy: 0.011)
        XCTAssertEqual(UpstreamCheckAnalysis.durations(of: [Int16](repeating: 0, count: 4_800), rate: 24_000, channels: 1).speech, 0)
    }

    func testARateThatMakesSpeechImplausibleIsNamed() {
        XCTAssertNil(UpstreamCheckAnalysis.rateWarning(millisecondsPerCharacter: 72, rate: 24_000, channels: 1,
                                                       source: "Content-Type", upstream: "k"))
        let doubled = UpstreamCheckAnalysis.rateWarning(millisecondsPerCharacter: 150, rate: 24_000, channels: 1,
                                                        source: "nothing (24000 Hz assumed)", upstream: "k")
        XCTAssertTrue(doubled?.contains("probably 48000 Hz (or 24000 Hz stereo taken as mono)") == true, doubled ?? "nil")
        XCTAssertTrue(doubled?.contains("sample_rate = 48000 in [upstream.k]") == true, doubled ?? "nil")
        let slow = UpstreamCheckAnalysis.rateWarning(millisecondsPerCharacter: 34, rate: 24_000, channels: 1,
                                                     source: "Content-Type", upstream: "k")
        XCTAssertTrue(slow?.contains("probably 11025 Hz") == true, slow ?? "nil")
    }

    func testTheSpeedRangeIsTheAcceptedRunAroundOne() {
        let probes = [(0.25, false), (0.5, false), (2.0, true), (3.0, false), (4.0, true)]
            .map { UpstreamReport.SpeedProbe(speed: $0.0, accepted: $0.1) }
        XCTAssertEqual(UpstreamCheckAnalysis.speedRange(probes), .init(minimum: 1.0, maximum: 2.0))
        let all = [0.25, 0.5, 2.0, 3.0, 4.0].map { UpstreamReport.SpeedProbe(speed: $0, accepted: true) }
        XCTAssertEqual(UpstreamCheckAnalysis.speedRange(all), .init(minimum: 0.25, maximum: 4.0))
    }

    func testFirstByteLineAndStreaming() {
        let model = UpstreamCheckAnalysis.firstByteModel((12, 980), (112, 2_980), basis: "input")
        XCTAssertEqual(model.millisecondsPerCharacter, 20, accuracy: 1e-9)
        XCTAssertEqual(model.baseMilliseconds, 740, accuracy: 1e-9)
        XCTAssertEqual(UpstreamCheckAnalysis.firstByteModel((12, 900), (112, 800), basis: "input").millisecondsPerCharacter, 0)
        XCTAssertTrue(UpstreamCheckAnalysis.streams(firstByte: 2_500, end: 5_000))
        XCTAssertFalse(UpstreamCheckAnalysis.streams(firstByte: 4_990, end: 5_000))
        XCTAssertFalse(UpstreamCheckAnalysis.streams(firstByte: 10, end: 60), "a fast answer is not proof of streaming")
    }

    func testListingsOfEveryShape() {
        XCTAssertEqual(UpstreamCheckAnalysis.names(inListing: Array(#"{"object":"list","data":[{"id":"tts-1"},{"id":"kokoro"}]}"#.utf8)),
                       ["tts-1", "kokoro"])
        XCTAssertEqual(UpstreamCheckAnalysis.names(inListing: Array(#"{"voices":["af_heart","am_adam"]}"#.utf8)),
                       ["af_heart", "am_adam"])
        XCTAssertEqual(UpstreamCheckAnalysis.names(inListing: Array(#"[{"name":"a"},"b"]"#.utf8)), ["a", "b"])
        XCTAssertNil(UpstreamCheckAnalysis.names(inListing: Array("<html>".utf8)))
    }
}
