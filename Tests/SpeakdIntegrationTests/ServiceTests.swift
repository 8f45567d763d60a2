import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// speakd as a service: configuration file, named upstreams, systemd socket activation and notifications.
final class ServiceTests: IntegrationTestCase {
    private var speakdPath: String { Harness.binDirectory.appendingPathComponent("speakd").path }

    func testSocketActivationServesTheFirstRequest() throws {
        let socketPath = directory.appendingPathComponent("activated.sock").path
        let activator = try SpawnedProcess("/usr/bin/systemd-socket-activate",
                                           ["-l", socketPath, speakdPath, "--device", "null", "--log-level", "debug"],
                                           logFile: directory.appendingPathComponent("activator.log").path)
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: socketPath), Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: socketPath), "systemd-socket-activate did not listen")

        // The socket exists before the daemon does; the first client starts it and is answered.
        let status = try Child(Harness.binDirectory.appendingPathComponent("speakctl").path, ["status"],
                               environment: ["SPEAKD_SOCKET": socketPath]).finish()
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("speakd \(speakdVersion)"), status.stdout)
        let spoken = try Child(Harness.binDirectory.appendingPathComponent("speakctl").path, ["--wait", "Activated."],
                               environment: ["SPEAKD_SOCKET": socketPath]).finish()
        XCTAssertEqual(spoken.status, 0, spoken.stderr)
        let log = activator.stop().log
        XCTAssertTrue(log.contains("inherited fd 3"), "speakd should serve the inherited socket: \(log)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: socketPath), "an inherited socket is systemd's to remove")
    }

    func testNotifyReadyOnlyWhenAcceptingThenWatchdogAndStopping() throws {
        let notify = try DatagramListener(path: directory.appendingPathComponent("notify.sock").path)
        let socketPath = directory.appendingPathComponent("speakd.sock").path
        let daemon = try Child(speakdPath, ["--socket", socketPath, "--device", "null"],
                               environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        let ready = try XCTUnwrap(notify.receive(timeout: 10), "no READY=1")
        XCTAssertTrue(ready.contains("READY=1"), ready)
        XCTAssertTrue(ready.contains("STATUS="), ready)
        // At the moment READY arrives, jobs are accepted.
        let connection = try DaemonConnection(path: socketPath)
        XCTAssertTrue(try connection.request("speak", ["input": .string("Ready means ready.")]).ok)
        var watchdogs = 0
        let until = Date().addingTimeInterval(1)
        while Date() < until, let message = notify.receive(timeout: 1) {
            if message.contains("WATCHDOG=1") { watchdogs += 1 }
        }
        XCTAssertGreaterThanOrEqual(watchdogs, 3, "WATCHDOG=1 every WATCHDOG_USEC/2 (100 ms)")
        daemon.process.terminate()
        var stopping = false
        while let message = notify.receive(timeout: 5) {
            if message.contains("STOPPING=1") { stopping = true; break }
        }
        XCTAssertTrue(stopping, "no STOPPING=1 on SIGTERM")
        XCTAssertEqual(daemon.finish().status, 0)
    }

    func testJobsNameTheirUpstreamAndExtrasGoOnlyWhereConfigured() throws {
        let first = try MockUpstream([], in: directory.appendingPathComponent("first"))
        let second = try MockUpstream([], in: directory.appendingPathComponent("second"))
        let config = directory.appendingPathComponent("config.toml")
        try """
            [upstream.lan]
            base_url = "\(first.baseURL)"
            voice = "af_heart"
            model = "kokoro"

            [upstream.streaming]
            base_url = "\(second.baseURL)"
            [upstream.streaming.extra_body]
            stream = true
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--device", "null"], in: directory)

        let plain = try daemon.speakctl(["--wait", "Through the default upstream."])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let firstBody = try XCTUnwrap(try first.requests().first?.log["body"] as? [String: Any])
        XCTAssertEqual(firstBody["voice"] as? String, "af_heart", "the upstream's own default voice")
        XCTAssertEqual(firstBody["model"] as? String, "kokoro")
        XCTAssertNil(firstBody["stream"], "extras are off unless configured for that upstream")

        // The mock, like OpenAI, refuses members outside the contract: the extra reaches it, and its refusal the user.
        let extra = try daemon.speakctl(["--wait", "--priority", "text", "--upstream", "streaming", "Through the second upstream."])
        XCTAssertEqual(extra.status, 1)
        XCTAssertTrue(extra.stderr.contains("stream"), extra.stderr)
        let secondBody = try XCTUnwrap(try second.requests().first?.log["body"] as? [String: Any])
        XCTAssertEqual(secondBody["stream"] as? Bool, true)

        let unknown = try daemon.speakctl(["--upstream", "nowhere", "hello"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("[field: upstream]"), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("lan, streaming"), unknown.stderr)
    }

    func testAnInvalidConfigurationFileStopsStartupWithLineAndReason() throws {
        let config = directory.appendingPathComponent("bad.toml")
        try "[audio]\ndevise = \"hw:0\"\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try Child(speakdPath, ["--config", config.path, "--socket", directory.appendingPathComponent("s.sock").path]).finish()
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("bad.toml:2: unknown key \"devise\" in [audio]"), result.stderr)

        let check = try Child(speakdPath, ["--config", config.path, "--check-config"]).finish()
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stderr.contains("bad.toml:2"), check.stderr)
    }

    func testCheckConfigPrintsTheEffectiveSettingsMasked() throws {
        let config = directory.appendingPathComponent("ok.toml")
        try "[upstream.openai]\napi_key = \"sk-live-do-not-print-4242\"\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try Child(speakdPath, ["--config", config.path, "--check-config", "--device", "hw:3"]).finish()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains("do-not-print"), result.stdout)
        XCTAssertTrue(result.stdout.contains("api_key = \"sk-…4242\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("device = \"hw:3\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("# flag"), result.stdout)
    }
}

/// A Unix datagram socket standing in for systemd's notification socket.
final class DatagramListener {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, result == 0 else { throw HarnessError("cannot bind \(path)") }
    }

    deinit { close(descriptor) }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double) -> String? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
