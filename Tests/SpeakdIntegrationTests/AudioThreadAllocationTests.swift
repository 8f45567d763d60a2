import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// "The audio thread never allocates", checked on the real daemon: an LD_PRELOAD probe
/// (Tests/Support/audio_thread_alloc_probe.c) counts heap allocations made on the thread named `speakd-audio`.
/// Opening the device allocates (inside alsa-lib); playing must not.
final class AudioThreadAllocationTests: IntegrationTestCase {
    private func buildProbe() throws -> String {
        let library = directory.appendingPathComponent("probe.so").path
        let source = Harness.packageRoot.appendingPathComponent("Tests/Support/audio_thread_alloc_probe.c").path
        let result = try Child("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"]).finish()
        XCTAssertEqual(result.status, 0, result.stderr)
        return library
    }

    private func count(_ file: URL) -> Int {
        Int(((try? String(contentsOf: file, encoding: .utf8)) ?? "0").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Through PulseAudio, mid-stream: nothing is allocated on the audio thread while a long job plays.
    func testNoAllocationWhilePlayingThroughPulse() throws {
        let probe = try buildProbe()
        let counter = directory.appendingPathComponent("count")
        let upstream = try MockUpstream(["--ms-per-char", "60"], in: directory)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "default"], in: directory,
                                       environment: ["OPENAI_API_KEY": "sk-x", "LD_PRELOAD": probe,
                                                     "SPEAKD_ALLOC_PROBE_FILE": counter.path])
        let connection = try daemon.connect()
        _ = try connection.request("speak", ["input": .string(String(repeating: "Steady state playback. ", count: 3))])
        XCTAssertEqual(try connection.waitForStartOrEnd(), .started, "the job ended without starting")
        usleep(300_000)
        let atStart = count(counter)
        XCTAssertGreaterThan(atStart, 0, "the probe saw no allocation at all: is it loaded? (opening the device allocates)")
        usleep(1_500_000)
        let later = count(counter)
        XCTAssertNotNil(try connection.request("status").status?.currentJob, "the job ended before the measurement did")
        XCTAssertEqual(later, atStart, "the audio thread allocated while playing")
    }

    /// Through the file PCM: after the first job has opened the device, further jobs — boundaries included —
    /// allocate nothing on the audio thread.
    func testNoAllocationAcrossJobsOnceTheDeviceIsOpen() throws {
        let probe = try buildProbe()
        let counter = directory.appendingPathComponent("count")
        let upstream = try MockUpstream(["--chunks", "1,3,4097"], in: directory)
        let capture = directory.appendingPathComponent("capture.raw").path
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "file:FILE=\(capture),FORMAT=raw"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-x", "LD_PRELOAD": probe,
                                                                    "SPEAKD_ALLOC_PROBE_FILE": counter.path])
        XCTAssertEqual(try daemon.speakctl(["--wait", "The first job opens the device."]).status, 0)
        let afterFirst = count(counter)
        XCTAssertGreaterThan(afterFirst, 0)
        for text in ["A second job.", "A third job, a little longer than the second one.", "Fourth."] {
            XCTAssertEqual(try daemon.speakctl(["--wait", text]).status, 0)
        }
        XCTAssertEqual(count(counter), afterFirst, "the audio thread allocated in the steady state")
    }
}
