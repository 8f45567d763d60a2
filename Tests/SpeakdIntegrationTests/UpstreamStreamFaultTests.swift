import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Upstreams that stall or end a 200 early, against the real daemon and the mock: each of the three timeouts fires
/// with a message naming it and the job after it plays (a stall never holds the queue); what arrived before an
/// early end is played and the job fails, while a 200 with nothing in it is asked for again.
final class UpstreamStreamFaultTests: IntegrationTestCase {
    private var listener: Int32 = -1
    private var backlogFiller: Int32 = -1

    override func tearDownWithError() throws {
        for fd in [listener, backlogFiller] where fd >= 0 { close(fd) }
        try super.tearDownWithError()
    }

    private var capture: URL { directory.appendingPathComponent("capture.raw") }

    /// The daemon on one upstream named "mock" (text jobs: no fallback), with these `[upstream.mock]` timeouts.
    private func startDaemon(baseURL: String, timeouts: String) throws -> DaemonProcess {
        let config = directory.appendingPathComponent("speakd.toml")
        try """
            [upstream.mock]
            base_url = "\(baseURL)"
            \(timeouts)
            """.write(to: config, atomically: true, encoding: .utf8)
        return try DaemonProcess(arguments: ["--config", config.path, "--device", "file:FILE=\(capture.path),FORMAT=raw"],
                                 in: directory)
    }

    private func startMockAndDaemon(_ mock: [String], timeouts: String = "") throws -> DaemonProcess {
        let upstream = try MockUpstream(["--ms-per-char", "5"] + mock, in: directory)
        self.upstream = upstream
        return try startDaemon(baseURL: upstream.baseURL, timeouts: timeouts)
    }

    /// Speaks a text job and returns its final event and how long it took to come.
    private func speak(_ client: DaemonConnection, _ text: String) throws -> (event: Event, seconds: Double) {
        let begin = Date()
        let job = try client.speak(text, ["priority": .string("text")])
        while true {
            let event = try client.nextEvent()
            if event.job == job, event.state?.isFinal == true { return (event, Date().timeIntervalSince(begin)) }
        }
    }

    /// What reached the device, once at least `bytes` are there (ALSA's file plugin writes its buffer out a little
    /// after the device position passes it).
    private func captured(atLeast bytes: Int = 0) -> Data {
        let deadline = Date().addingTimeInterval(3)
        var data = Data()
        repeat {
            data = (try? Data(contentsOf: capture)) ?? Data()
            if data.count >= bytes { break }
            usleep(20_000)
        } while Date() < deadline
        return data
    }

    // MARK: timeouts

    func testAStallBeforeTheHeadersFiresTheFirstByteTimeout() throws {
        let daemon = try startMockAndDaemon(["--header-delay", "30", "--faults-first", "1"],
                                            timeouts: "first_byte_timeout = 1\nidle_timeout = 5")
        let client = try daemon.connect()
        let (stalled, seconds) = try speak(client, "Nothing comes back.")
        XCTAssertEqual(stalled.state, .failed)
        let reason = stalled.reason ?? ""
        XCTAssertTrue(reason.contains("first_byte_timeout") && reason.contains("within 1 s"), reason)
        XCTAssertFalse(reason.contains("idle_timeout"), reason)
        XCTAssertGreaterThanOrEqual(seconds, 0.9)
        XCTAssertLessThan(seconds, 4, "the first-byte timeout fired late (not retried: the listener waited already)")

        let (next, _) = try speak(client, "The next job plays.")
        XCTAssertEqual(next.state, .finished, next.reason ?? "")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 2, "a timeout is not retried")
    }

    func testAStallMidStreamFiresTheIdleTimeoutAfterPlayingWhatArrived() throws {
        let daemon = try startMockAndDaemon(["--stall-after", "9600", "--faults-first", "1"],
                                            timeouts: "first_byte_timeout = 5\nidle_timeout = 1")
        let client = try daemon.connect()
        let (stalled, seconds) = try speak(client, "This sentence stalls half way through its audio stream.")
        XCTAssertEqual(stalled.state, .failed)
        let reason = stalled.reason ?? ""
        XCTAssertTrue(reason.contains("idle_timeout") && reason.contains("nothing for 1 s"), reason)
        XCTAssertTrue(reason.contains("after 4800 samples"), reason)
        XCTAssertFalse(reason.contains("first_byte_timeout"), reason)
        XCTAssertGreaterThanOrEqual(seconds, 0.9)
        XCTAssertLessThan(seconds, 4)
        let sent = try XCTUnwrap(upstream).requests()[0].pcm
        XCTAssertEqual(sent.count, 9_600)
        XCTAssertEqual(captured(atLeast: 9_600).prefix(9_600), sent, "the audio received before the stall was not played")

        let (next, _) = try speak(client, "The next job plays.")
        XCTAssertEqual(next.state, .finished, next.reason ?? "")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 2, "audio already heard is never requested again")
    }

    func testAHeadersOnlyStallFiresTheIdleTimeout() throws {
        // Headers, then nothing: the first-byte timeout is satisfied, the body is what stalls.
        let daemon = try startMockAndDaemon(["--hold", "30", "--faults-first", "1"],
                                            timeouts: "first_byte_timeout = 5\nidle_timeout = 1")
        let client = try daemon.connect()
        let (stalled, seconds) = try speak(client, "Headers but no audio.")
        XCTAssertEqual(stalled.state, .failed)
        XCTAssertTrue(stalled.reason?.contains("idle_timeout") == true, stalled.reason ?? "")
        XCTAssertLessThan(seconds, 4)
        XCTAssertEqual(try speak(client, "Then audio.").event.state, .finished)
    }

    func testAConnectionThatNeverCompletesFiresTheConnectTimeout() throws {
        // A listener whose accept queue is full: Linux drops further SYNs, so connecting hangs until timed out.
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(listener, raw, length) == 0, listen(listener, 0) == 0, getsockname(listener, raw, &length) == 0 else {
                    throw HarnessError("cannot listen: errno \(errno)")
                }
                backlogFiller = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                guard connect(backlogFiller, raw, length) == 0 else { throw HarnessError("cannot fill the backlog: errno \(errno)") }
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let daemon = try startDaemon(baseURL: "http://127.0.0.1:\(port)/v1",
                                     timeouts: "connect_timeout = 1\nfirst_byte_timeout = 5\nidle_timeout = 5")
        let client = try daemon.connect()
        let (event, seconds) = try speak(client, "Nobody answers the phone.")
        XCTAssertEqual(event.state, .failed)
        let reason = event.reason ?? ""
        XCTAssertTrue(reason.contains("connect_timeout") && reason.contains("within 1 s"), reason)
        XCTAssertGreaterThanOrEqual(seconds, 0.9)
        XCTAssertLessThan(seconds, 4)
        // The queue is not held: the daemon still answers at once.
        XCTAssertNoThrow(try client.request("status"))
    }

    // MARK: a 200 that ends early or carries nothing

    func testA200CutShortPlaysWhatArrivedThenFails() throws {
        let daemon = try startMockAndDaemon(["--cut-after", "9600"])
        let client = try daemon.connect()
        let (event, _) = try speak(client, "This answer is cut off after a fifth of a second of its audio.")
        XCTAssertEqual(event.state, .failed)
        let reason = event.reason ?? ""
        XCTAssertTrue(reason.contains("after 4800 samples") && reason.contains("closed early"), reason)
        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 1, "audio already heard is never requested again")
        XCTAssertEqual(captured(atLeast: 9_600).prefix(9_600), requests[0].pcm, "the audio that arrived was not played")
    }

    func testA200CutBeforeAnyAudioIsRetried() throws {
        let daemon = try startMockAndDaemon(["--cut-after", "0", "--faults-first", "1"])
        let client = try daemon.connect()
        let (event, _) = try speak(client, "Second time lucky.")
        XCTAssertEqual(event.state, .finished, event.reason ?? "")
        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(captured(atLeast: requests[1].pcm.count), requests[1].pcm)
    }

    func testAnEmpty200IsRetried() throws {
        let daemon = try startMockAndDaemon(["--empty", "--faults-first", "1"])
        let client = try daemon.connect()
        let (event, _) = try speak(client, "Kokoro had nothing to say the first time.")
        XCTAssertEqual(event.state, .finished, event.reason ?? "")
        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(captured(atLeast: requests[1].pcm.count), requests[1].pcm)
    }

    func testAnUpstreamThatAlwaysAnswersEmptyFailsWithTheReason() throws {
        let daemon = try startMockAndDaemon(["--empty"])
        let client = try daemon.connect()
        let (event, _) = try speak(client, "Never any audio.")
        XCTAssertEqual(event.state, .failed)
        XCTAssertTrue(event.reason?.contains("answered 200 but sent no audio") == true, event.reason ?? "")
        XCTAssertEqual(try XCTUnwrap(upstream).requests().count, 4, "bounded retries")
        XCTAssertEqual(captured().count, 0)
    }
}
