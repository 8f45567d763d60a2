import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Lead-in for sleeping outputs and keep-open, on ALSA's `file` PCM (byte-exact: what the device was given). The
/// file plugin truncates its file at each open, so the capture holds what the device got since it last opened.
final class LeadInTests: IntegrationTestCase {
    private func startDaemon(leadInMilliseconds: Int, keepOpenMilliseconds: Int) throws -> (DaemonProcess, MockUpstream, String) {
        let upstream = try MockUpstream(["--ms-per-char", "10"], in: directory)
        self.upstream = upstream
        let capture = directory.appendingPathComponent("capture.raw").path
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            [audio]
            lead_in_ms = \(leadInMilliseconds)
            keep_open_ms = \(keepOpenMilliseconds)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--api-base", upstream.baseURL,
                                                   "--device", "file:FILE=\(capture),FORMAT=raw"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-test"])
        self.daemon = daemon
        return (daemon, upstream, capture)
    }

    private func capture(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Waits until `status` says the device is closed (keep-open has run out).
    private func waitForDeviceClosed(_ daemon: DaemonProcess, timeout: Double = 5) throws {
        let client = try daemon.connect()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try client.request("status").status?.deviceOpen == false { return }
            usleep(20_000)
        }
        XCTFail("the device stayed open past keep_open_ms")
    }

    func testAfterTheDeviceClosedTheSpeechIsPrecededByTheLeadInAndNothingIsCut() throws {
        let (daemon, upstream, capturePath) = try startDaemon(leadInMilliseconds: 300, keepOpenMilliseconds: 200)
        let status = try XCTUnwrap(try daemon.connect().request("status").status)
        XCTAssertEqual(status.leadInMilliseconds, 300)
        XCTAssertEqual(status.keepOpenMilliseconds, 200)
        XCTAssertEqual(status.deviceOpen, false)
        XCTAssertEqual(status.mediaRole, "announcement")

        // The device was never open: 300 ms of silence (7,200 samples at 24 kHz), then every sample sent.
        XCTAssertEqual(try daemon.speakctl(["--wait", "Wake up, speakers."]).status, 0)
        let first = try upstream.requests().reduce(Data()) { $0 + $1.pcm }
        XCTAssertFalse(first.isEmpty)
        XCTAssertEqual(try capture(capturePath), Data(count: 7_200 * 2) + first, "not the lead-in followed by the whole speech")

        // A job right after, while the device is open and awake: no lead-in, its samples follow directly.
        XCTAssertEqual(try daemon.speakctl(["--wait", "Still awake."]).status, 0)
        let second = try upstream.requests().dropFirst().reduce(Data()) { $0 + $1.pcm }
        XCTAssertEqual(try capture(capturePath), Data(count: 7_200 * 2) + first + second, "an awake device got a lead-in")

        // keep_open_ms later the device is closed; the next job gets the lead-in again, and a job's own
        // lead_in_ms replaces the configured one.
        try waitForDeviceClosed(daemon)
        XCTAssertEqual(try daemon.speakctl(["--wait", "--lead-in", "100", "Asleep again."]).status, 0)
        let third = try upstream.requests().dropFirst(2).reduce(Data()) { $0 + $1.pcm }
        XCTAssertEqual(try capture(capturePath), Data(count: 2_400 * 2) + third, "a job's lead_in_ms was not used")

        try waitForDeviceClosed(daemon)
        XCTAssertEqual(try daemon.speakctl(["--wait", "--lead-in", "0", "No lead-in."]).status, 0)
        let fourth = try upstream.requests().dropFirst(3).reduce(Data()) { $0 + $1.pcm }
        XCTAssertEqual(try capture(capturePath), fourth, "lead_in_ms 0 still wrote silence")
    }

    func testWithoutALeadInTheDeviceStaysOpenForKeepOpenAndTheSpeechIsUntouched() throws {
        let (daemon, upstream, capturePath) = try startDaemon(leadInMilliseconds: 0, keepOpenMilliseconds: 1_500)
        XCTAssertEqual(try daemon.speakctl(["--wait", "Nothing before me."]).status, 0)
        XCTAssertEqual(try capture(capturePath), try upstream.requests().reduce(Data()) { $0 + $1.pcm })
        // Open during keep_open_ms, closed after it.
        usleep(500_000)
        XCTAssertEqual(try daemon.connect().request("status").status?.deviceOpen, true)
        try waitForDeviceClosed(daemon, timeout: 3)
    }
}
