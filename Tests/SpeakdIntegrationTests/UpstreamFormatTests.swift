import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Every way a self-hosted server labels and packages its audio (mock_upstream.py --voice-format): played at the
/// right speed and pitch, mono and stereo, at 16, 22.05, 24, 44.1 and 48 kHz. Played into the ALSA `file` PCM
/// with FORMAT=wav (no lock needed): its header records the rate and channels the device was opened at, so a
/// wrong rate shows even though the samples would be the same.
final class UpstreamFormatTests: IntegrationTestCase {
    private static let rates = [16_000, 22_050, 24_000, 44_100, 48_000]
    private static let tone = 440.0
    /// 99 characters at 30 ms each, one sentence (one request): 3 s of tone, so an MP3 encoder's delay and padding
    /// stay under 3 %.
    private static let text = String(repeating: "tone ", count: 20).trimmingCharacters(in: .whitespaces)

    private struct Played {
        var rate: Int
        var channels: Int
        var samples: [Int16]
    }

    private func startUpstream() throws -> MockUpstream {
        let mock = try MockUpstream(["--voice-format", "--tone", "\(Self.tone)", "--ms-per-char", "30"], in: directory)
        upstream = mock
        return mock
    }

    /// Speaks `text` with `voice` on a fresh daemon playing into a WAV file; returns what the device was given.
    private func play(_ voice: String, upstream: MockUpstream, name: String) throws -> Played {
        let place = directory.appendingPathComponent(name.filter { $0.isLetter || $0.isNumber })
        try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
        let capture = place.appendingPathComponent("capture.wav").path
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "file:FILE=\(capture),FORMAT=wav",
                                                   "--fallback", "none", "--no-cache"], in: place)
        let result = try daemon.speakctl(["--wait", "--voice", voice, Self.text])
        XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
        _ = daemon.stop()
        return try Self.parseWAV(Array(try Data(contentsOf: URL(fileURLWithPath: capture))), name: name)
    }

    /// The file PCM's WAV: the fmt chunk's rate and channels, and every byte after the data header (its sizes are
    /// patched only at close).
    private static func parseWAV(_ bytes: [UInt8], name: String) throws -> Played {
        func le(_ at: Int, _ width: Int) -> Int { (0..<width).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        guard bytes.count >= 44, bytes.starts(with: Array("RIFF".utf8)) else { throw HarnessError("\(name): no WAV was captured") }
        var offset = 12, rate = 0, channels = 0
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            if id == "fmt " { channels = le(offset + 10, 2); rate = le(offset + 12, 4) }
            if id == "data" {
                let data = Array(bytes[(offset + 8)...])
                return Played(rate: rate, channels: channels,
                              samples: data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) })
            }
            offset += 8 + le(offset + 4, 4)
        }
        throw HarnessError("\(name): the capture has no data chunk")
    }

    /// Duration within 4 % of the 3 s sent (an MP3 encoder adds up to ~0.1 s), pitch (zero crossings of the first channel) within 1 % of 440 Hz.
    private func assertRightSpeedAndPitch(_ played: Played, rate: Int, channels: Int, name: String,
                                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(played.rate, rate, "\(name): device opened at the wrong rate", file: file, line: line)
        XCTAssertEqual(played.channels, channels, "\(name): device opened with the wrong channel count", file: file, line: line)
        guard played.rate > 0, played.channels > 0 else { return }
        let first = stride(from: 0, to: played.samples.count, by: played.channels).map { played.samples[$0] }
        let seconds = Double(first.count) / Double(played.rate)
        let expected = Double(Self.text.count) * 0.030
        XCTAssertEqual(seconds, expected, accuracy: expected * 0.04, "\(name): played for \(seconds) s", file: file, line: line)
        // Crossings over the loud part only (skips a codec's leading silence).
        guard let start = first.firstIndex(where: { abs($0) > 2_000 }), let end = first.lastIndex(where: { abs($0) > 2_000 }),
              end - start > played.rate / 2 else {
            XCTFail("\(name): no tone in what was played", file: file, line: line)
            return
        }
        var crossings = 0
        for index in (start + 1)...end where (first[index - 1] < 0) != (first[index] < 0) { crossings += 1 }
        let hertz = Double(crossings) / 2 / (Double(end - start) / Double(played.rate))
        XCTAssertEqual(hertz, Self.tone, accuracy: Self.tone * 0.01, "\(name): pitch \(hertz) Hz", file: file, line: line)
    }

    /// Raw PCM (rate and channels in the Content-Type), big-endian L16, and each container.
    func testEveryContainerAtEveryRateMonoAndStereo() throws {
        let upstream = try startUpstream()
        for rate in Self.rates {
            for channels in [1, 2] {
                let cases: [(voice: String, playedRate: Int)] = [
                    ("pcm|\(rate)|\(channels)|audio/pcm;rate={rate};channels={channels}", rate),
                    ("l16|\(rate)|\(channels)", rate),
                    ("wav|\(rate)|\(channels)", rate),
                    ("mp3|\(rate)|\(channels)", rate),
                    ("flac|\(rate)|\(channels)", rate),
                    // Opus runs at its own rates; 22.05 and 44.1 kHz come back at 48 kHz.
                    ("opus|\(rate)|\(channels)", [22_050, 44_100].contains(rate) ? 48_000 : rate),
                ]
                for (voice, playedRate) in cases {
                    let played = try play(voice, upstream: upstream, name: voice)
                    assertRightSpeedAndPitch(played, rate: playedRate, channels: channels, name: voice)
                }
            }
        }
    }

    /// Raw PCM under each label servers use, with the rate and channels wherever they state them.
    func testEveryRawPCMLabel() throws {
        let upstream = try startUpstream()
        let cases: [(voice: String, rate: Int, channels: Int)] = [
            ("pcm|24000|1|audio/pcm", 24_000, 1),
            ("pcm|22050|1|audio/pcm;rate={rate}", 22_050, 1),
            ("pcm|44100|2|audio/pcm_s16le;rate={rate};channels={channels}", 44_100, 2),
            ("pcm|16000|2|audio/raw|X-Sample-Rate|X-Channels", 16_000, 2),
            ("pcm|48000|2|application/octet-stream|x-audio-sample-rate|X-Channels", 48_000, 2),
            ("pcm|22050|2|-|sample-rate|channels", 22_050, 2),
            ("pcm|24000|1|-", 24_000, 1),
        ]
        for (voice, rate, channels) in cases {
            assertRightSpeedAndPitch(try play(voice, upstream: upstream, name: voice), rate: rate, channels: channels, name: voice)
        }
    }

    /// What is not audio is refused, naming the content type and the server.
    func testTextIsRefusedNamingTheTypeAndTheServer() throws {
        let page = directory.appendingPathComponent("page.html")
        try Data("<!DOCTYPE html><html><body>Bad gateway</body></html>".utf8).write(to: page)
        let html = try MockUpstream(["--content-type", "text/html", "--pcm", page.path], in: directory)
        upstream = html
        let daemon = try DaemonProcess(arguments: ["--api-base", html.baseURL, "--device", "null", "--fallback", "none", "--no-cache"],
                                       in: directory)
        self.daemon = daemon
        let result = try daemon.speakctl(["--wait", "Hello."])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("text/html") && result.stderr.contains(html.baseURL), result.stderr)
    }

    /// 44.1 kHz stereo WAV used to leave its job "playing" for ever: after a mono job of odd length (2,205 samples)
    /// its frames lie at odd ring positions, and the one across the ring's end stalled the audio thread. Its 6.6 s
    /// are more than the ring holds, so it crosses that end. It must end, and the jobs after it must play.
    func testA44kStereoWAVJobEndsAndTheNextJobsPlay() throws {
        let upstream = try MockUpstream(["--voice-format", "--tone", "440", "--chunks", "4097,1,3,998"], in: directory)
        self.upstream = upstream
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "file:FILE=\(capture),FORMAT=raw",
                                                   "--fallback", "none", "--no-cache"], in: directory)
        self.daemon = daemon
        let long = String(repeating: "stereo ", count: 31) + "end."
        let jobs = [("pcm|22050|1|audio/pcm;rate={rate}", "Hi."), ("wav|44100|2", long), ("pcm|24000|1", "After it."),
                    ("flac|48000|2", "And this.")]
        for (voice, text) in jobs {
            let speakctl = try Child(Harness.binDirectory.appendingPathComponent("speakctl").path, ["--wait", "--voice", voice, text],
                                     environment: ["SPEAKD_SOCKET": daemon.socketPath])
            let ended = speakctl.process.waitUntilExit(timeout: 30)
            XCTAssertTrue(ended, "\(voice): speakctl --wait never returned")
            guard ended else { return speakctl.terminate() }
            let (status, _, stderr) = speakctl.finish()
            XCTAssertEqual(status, 0, "\(voice): \(stderr)")
        }
    }
}
