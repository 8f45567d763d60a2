import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Chimes before and after the speech. Byte-exact on ALSA's `file` PCM (what the device was given: the chime's
/// samples, the configured silence, then every sample the upstream sent); timed on the null sink when the upstream's
/// first byte comes after the chime has ended (the gap is the excess, no more).
final class ChimeTests: IntegrationTestCase {
    private func startDaemon(mock: [String] = [], config: String = "", device: String? = nil)
        throws -> (DaemonProcess, MockUpstream, capture: String) {
        let upstream = try MockUpstream(["--ms-per-char", "10"] + mock, in: directory)
        self.upstream = upstream
        let capture = directory.appendingPathComponent("capture.raw").path
        let configFile = directory.appendingPathComponent("speakd.toml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", configFile.path, "--api-base", upstream.baseURL,
                                                   "--device", device ?? "file:FILE=\(capture),FORMAT=raw"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-test"])
        self.daemon = daemon
        return (daemon, upstream, capture)
    }

    /// A 24 kHz mono WAV of a 660 Hz sine: at the speech's format, so what the device gets is its samples exactly.
    private func chimeFile(milliseconds: Int = 250) throws -> (path: String, samples: Data) {
        let wav = DuckingTests.sineWAV(hertz: 660, seconds: Double(milliseconds) / 1_000, amplitude: 6_000)
        let path = directory.appendingPathComponent("chime.wav").path
        try wav.write(to: URL(fileURLWithPath: path))
        return (path, wav.dropFirst(44))
    }

    private func sent(_ upstream: MockUpstream) throws -> Data { try upstream.requests().reduce(Data()) { $0 + $1.pcm } }

    func testTheChimeThenTheSilenceThenTheWholeSpeech() throws {
        let (daemon, upstream, capture) = try startDaemon(config: "[chimes]\noffset_ms = 100\n")
        let chime = try chimeFile()
        XCTAssertEqual(try daemon.speakctl(["--wait", "--chime", chime.path, "Dinner is ready."]).status, 0)
        let heard = try Data(contentsOf: URL(fileURLWithPath: capture))
        XCTAssertEqual(heard, chime.samples + Data(count: 2_400 * 2) + (try sent(upstream)),
                       "not the chime, 100 ms of silence and the speech")
    }

    func testAChimeAfterAndAPriorityChimeFromTheConfiguration() throws {
        let chime = try chimeFile(milliseconds: 200)
        let (daemon, upstream, capture) = try startDaemon(config: "[chimes]\nimportant = \"\(chime.path)\"\n")
        XCTAssertEqual(try daemon.speakctl(["--wait", "--priority", "important", "--chime-after", "dong", "Doorbell."]).status, 0)
        let heard = try Data(contentsOf: URL(fileURLWithPath: capture))
        let speech = try sent(upstream)
        XCTAssertEqual(heard.prefix(chime.samples.count + speech.count), chime.samples + speech)
        // The built-in `dong` (450 ms at 24 kHz) follows, and it is a sound, not silence.
        let after = heard.dropFirst(chime.samples.count + speech.count)
        XCTAssertEqual(after.count, 10_800 * 2)
        XCTAssertGreaterThan(SinkRecorder.samples(of: Data(after)).map { abs(Int($0)) }.max() ?? 0, 1_000)
        // A message job has no chime configured: its speech alone.
        XCTAssertEqual(try daemon.speakctl(["--wait", "Just words."]).status, 0)
        let words = try upstream.requests().dropFirst().reduce(Data()) { $0 + $1.pcm }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)).suffix(words.count), words)
    }

    func testAChimeThatCannotBePlayedIsRefusedWithItsReasonAndNothingIsQueued() throws {
        let (daemon, _, _) = try startDaemon()
        let client = try daemon.connect()
        let missing = try client.request("speak", ["input": .string("Hello."), "chime": .string("/nonexistent/chime.wav")])
        XCTAssertFalse(missing.ok)
        XCTAssertEqual(missing.error?.field, "chime")
        XCTAssertTrue(missing.error?.message.contains("/nonexistent/chime.wav") == true, missing.error?.message ?? "")
        let unknown = try client.request("speak", ["input": .string("Hello."), "chime_after": .string("gong")])
        XCTAssertFalse(unknown.ok)
        XCTAssertTrue(unknown.error?.message.contains("ding, dong") == true, unknown.error?.message ?? "")
        XCTAssertEqual(try client.request("status").status?.queued, 0)
        // A configured chime that cannot be read stops the start with its reason.
        let config = directory.appendingPathComponent("bad.toml")
        try "[chimes]\nmessage = \"relative.wav\"\n".write(to: config, atomically: true, encoding: .utf8)
        let check = try Child(Harness.binDirectory.appendingPathComponent("speakd").path,
                              ["--config", config.path, "--check-config"]).finish()
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.stderr.contains("[chimes] message"), check.stderr)
    }

    /// The chime starts at once and hides the upstream's first byte; when the first byte comes after the chime has
    /// ended, the speech follows at the excess, not later.
    /// A first byte faster than the chime: the speech starts at the chime's end, with no gap.
    func testWhenTheFirstByteComesDuringTheChimeTheSpeechFollowsItsEnd() throws {
        let (daemon, _, _) = try startDaemon(mock: ["--header-delay", "0.05", "--tone", "1000"], device: "default")
        let gap = try chimeToSpeechGap(daemon)
        print("chime then speech (first byte 50 ms): gap \(gap) ms")
        XCTAssertLessThanOrEqual(gap, 10)
    }

    /// Plays a 250 ms chime before one sentence into the null sink; the silence between them, in ms (10 ms windows).
    private func chimeToSpeechGap(_ daemon: DaemonProcess) throws -> Double {
        let recorder = try SinkRecorder(in: directory)
        self.recorder = recorder
        let chime = try chimeFile(milliseconds: 250)
        XCTAssertEqual(try daemon.speakctl(["--wait", "--chime", chime.path, "Hello."]).status, 0)
        usleep(300_000)
        let recorded = recorder.stop()
        let window = 240
        let windows = stride(from: 0, to: recorded.count - window, by: window).map { start in
            (chime: DuckingTests.amplitude(of: 660, in: recorded[start..<start + window]) > 1_000,
             speech: DuckingTests.amplitude(of: 1_000, in: recorded[start..<start + window]) > 1_000)
        }
        let chimeEnd = try XCTUnwrap(windows.lastIndex { $0.chime }, "no chime in the recording")
        let speechStart = try XCTUnwrap(windows.firstIndex { $0.speech }, "no speech in the recording")
        return Double(speechStart - chimeEnd - 1) * 10
    }

    func testWhenTheFirstByteComesAfterTheChimeTheGapIsTheExcess() throws {
        let (daemon, _, _) = try startDaemon(mock: ["--header-delay", "0.6", "--tone", "1000"], device: "default")
        let gap = try chimeToSpeechGap(daemon)
        print("chime then speech (first byte 600 ms): gap \(gap) ms")
        // The first byte came 600 ms after the request and the chime lasted 250 ms: about 350 ms of gap, plus the
        // request's own path; never the chime's length again on top.
        XCTAssertGreaterThan(gap, 250)
        XCTAssertLessThan(gap, 480)
    }
}
