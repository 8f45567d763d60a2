import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// The sound server missing at start, killed mid-job, and started again, against the real daemon: speakd starts
/// and says so, the job that cannot be heard fails with the reason, nothing crashes, and the next job after the
/// server is back is heard in the null sink's recording.
///
/// The test runs its own PulseAudio (`PULSE_RUNTIME_PATH` in its directory, started by scripts/start-null-sink), so
/// killing it never disturbs the shared one other tests and engineers play to; tearDown stops it whatever happened.
final class DeviceFaultTests: IntegrationTestCase {
    private var pulseEnvironment: [String: String] = [:]

    override func setUpWithError() throws {
        try super.setUpWithError()
        let runtime = directory.appendingPathComponent("pulse")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        pulseEnvironment = ["PULSE_RUNTIME_PATH": runtime.path]
    }

    override func tearDownWithError() throws {
        recorder = nil   // parec and the mock go before the sound server they use
        upstream = nil
        stopPulseAudio()
        try super.tearDownWithError()
    }

    private func shell(_ command: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child("/bin/sh", ["-c", command], environment: pulseEnvironment).finish()
    }

    private func startPulseAudio() throws {
        let script = Harness.packageRoot.appendingPathComponent("scripts/start-null-sink").path
        let result = try shell("'\(script)'")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try shell("pactl info").status, 0, "the private PulseAudio does not answer")
    }

    private func stopPulseAudio() {
        _ = try? shell("pulseaudio --kill; for i in $(seq 50); do pactl info >/dev/null 2>&1 || exit 0; sleep 0.1; done")
    }

    private func finalEvent(_ connection: DaemonConnection, job: String) throws -> Event {
        while true {
            let event = try connection.nextEvent()
            if event.job == job, event.state?.isFinal == true { return event }
        }
    }

    func testMissingAtStartThenVanishingMidJobThenBack() throws {
        stopPulseAudio()
        XCTAssertNotEqual(try shell("pactl info").status, 0, "a PulseAudio answers in the test's private runtime path")
        let upstream = try MockUpstream(["--ms-per-char", "20"], in: directory)
        self.upstream = upstream
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "default"], in: directory,
                                       environment: pulseEnvironment.merging(["OPENAI_API_KEY": "sk-test"]) { $1 })
        let client = try daemon.connect()

        // Missing at start: the daemon runs, and its status and log say why the device cannot be used.
        let atStart = try XCTUnwrap(try client.request("status").status)
        XCTAssertTrue(atStart.deviceError?.contains("cannot open audio device \"default\"") == true, "\(atStart)")
        let statusText = try daemon.speakctl(["status"])
        XCTAssertTrue(statusText.stdout.contains("unavailable: cannot open audio device"), statusText.stdout)
        XCTAssertTrue(String(decoding: daemon.child.stderrSoFar, as: UTF8.self).contains("audio device unavailable"))

        // A job meanwhile fails with the reason; speakctl --wait says so and exits non-zero.
        let failed = try daemon.speakctl(["--wait", "--priority", "text", "Nobody can hear this."])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("cannot open audio device"), failed.stderr)

        // The server comes up: the next job opens the device afresh and is heard.
        try startPulseAudio()
        recorder = try SinkRecorder(in: directory, environment: pulseEnvironment)
        let first = try daemon.speakctl(["--wait", "--priority", "text", "Now the sound server is up."])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertNil(try client.request("status").status?.deviceError)

        // The server dies in the middle of a three-second job: that job fails with the reason, nothing crashes.
        let long = try client.speak("The sound server dies while this sentence is being spoken, " + String(repeating: "a", count: 100) + ".",
                                    ["priority": .string("text")])
        XCTAssertEqual(try client.waitForStartOrEnd(), .started)
        usleep(500_000)
        stopPulseAudio()
        recorder = nil
        let cut = try finalEvent(client, job: long)
        XCTAssertEqual(cut.state, .failed)
        XCTAssertTrue(cut.reason?.contains("audio device \"default\"") == true, cut.reason ?? "")
        XCTAssertEqual(cut.error?.code, .audioDevice)
        XCTAssertTrue(daemon.child.process.isRunning)
        XCTAssertNotNil(try client.request("status").status?.deviceError)

        // Back again: the next job is heard, sample for sample.
        try startPulseAudio()
        recorder = try SinkRecorder(in: directory, environment: pulseEnvironment)
        let back = try daemon.speakctl(["--wait", "--priority", "text", "Back again after the restart."])
        XCTAssertEqual(back.status, 0, back.stderr)
        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().last).pcm)
        XCTAssertGreaterThan(sent.count, 4_800)
        // A new stream's first milliseconds may come out as zeros: anchor 20 ms in.
        let anchor = sent[480..<(480 + 2_400)]
        usleep(200_000)
        let recorded = try XCTUnwrap(recorder).stop()
        XCTAssertNotNil(recorded.firstIndex(ofSequence: anchor), "the job after the restart was not heard")
        XCTAssertNil(try client.request("status").status?.deviceError)
        let log = daemon.stop().log
        XCTAssertTrue(log.contains("the audio device works again"), log)
    }
}
