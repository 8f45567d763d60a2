import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Every listener speed (0.25–4×) spoken by the upstream's voice, against the two kinds of server that cannot do it
/// themselves: one refusing speed outside 1.0–2.0 with Kokoro-FastAPI's 422, one ignoring speed. Lengths are
/// measured on ALSA's `file` PCM (byte-exact, unpaced) and in the `finished` event.
final class SpeedTests: IntegrationTestCase {
    /// 30 ms of audio per character at speed 1 (the mock's default).
    private let secondsPerCharacter = 0.030
    private var capture: String { directory.appendingPathComponent("capture.raw").path }

    private func startDaemon(mock: [String]) throws -> DaemonProcess {
        let upstream = try MockUpstream(mock, in: directory)
        self.upstream = upstream
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "file:FILE=\(capture),FORMAT=raw"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-test"])
        self.daemon = daemon
        return daemon
    }

    private func captured() -> Int { ((try? FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int) ?? 0) / 2 }

    /// Speaks `text` at `speed`; returns the final event and the seconds that reached the device.
    private func speak(_ client: DaemonConnection, _ text: String, speed: Double) throws -> (event: Event, seconds: Double) {
        let before = captured()
        let job = try client.speak(text, ["speed": .number(speed)])
        while true {
            let event = try client.nextEvent()
            guard event.job == job, event.state?.isFinal == true else { continue }
            // The file PCM writes what it is given before the end is reported heard; allow it a moment anyway.
            usleep(50_000)
            return (event, Double(captured() - before) / 24_000)
        }
    }

    /// Speaks each speed once with its own sentence and checks engine and length; returns "speed: error %" lines.
    private func checkSpeeds(_ client: DaemonConnection, label: String) throws -> [String] {
        var report: [String] = []
        for (index, speed) in [0.5, 1.0, 2.5, 4.0].enumerated() {
            let text = "Sentence number \(index + 1) at speed \(speed) is long enough for its length to be measured well."
            let natural = Double(text.count) * secondsPerCharacter
            let (event, seconds) = try speak(client, text, speed: speed)
            XCTAssertEqual(event.state, .finished, "\(label) \(speed)×: \(event.reason ?? "")")
            XCTAssertEqual(event.engine, "openai", "\(label) \(speed)×: spoken by the fallback")
            let expected = natural / speed
            XCTAssertEqual(seconds / expected, 1, accuracy: 0.05, "\(label) \(speed)×: \(seconds) s at the device, expected \(expected) s")
            XCTAssertEqual((event.duration ?? 0) / expected, 1, accuracy: 0.05, "\(label) \(speed)×: finished says \(event.duration ?? 0) s")
            report.append(String(format: "%@ %.2fx: expected %.3f s, device %.3f s (%+.2f %%), finished %.3f s",
                                 label, speed, expected, seconds, (seconds / expected - 1) * 100, event.duration ?? 0))
        }
        return report
    }

    func testAnUpstreamRefusingSpeedOutsideOneToTwoSpeaksEverySpeed() throws {
        let daemon = try startDaemon(mock: ["--speed-range", "1,2"])
        let client = try daemon.connect()
        let report = try checkSpeeds(client, label: "refuses outside 1-2")
        FileHandle.standardError.write(Data((report.joined(separator: "\n") + "\n").utf8))

        // Refused speeds were learned from the 422 and asked again at once, clamped; never more than once per bound.
        let requests = try XCTUnwrap(upstream).requests()
        let statuses = requests.compactMap { $0.log["status"] as? Int }
        XCTAssertEqual(statuses.filter { $0 == 422 }.count, 2, "\(statuses)")
        let speeds = requests.compactMap { ($0.log["body"] as? [String: Any])?["speed"] as? Double }
        XCTAssertEqual(speeds, [0.5, 1.0, 1.0, 2.5, 2.0, 2.0])
        let log = daemon.stop().log
        XCTAssertTrue(log.contains("refused speed"), "the refusal is logged")
        XCTAssertFalse(log.contains("embedded engine speaks instead"))
    }

    func testAnUpstreamIgnoringSpeedIsRecognisedAndEverySpeedIsStretched() throws {
        let daemon = try startDaemon(mock: ["--ignore-speed"])
        let client = try daemon.connect()
        // Recognising it takes a speed-1 sentence and one at another speed (which plays at the server's length).
        _ = try speak(client, "A first sentence at the normal speed, to learn how this voice speaks.", speed: 1.0)
        let (revealing, _) = try speak(client, "A second sentence at twice the speed shows that speed is ignored.", speed: 2.0)
        XCTAssertEqual(revealing.engine, "openai")
        let report = try checkSpeeds(client, label: "ignores speed")
        FileHandle.standardError.write(Data((report.joined(separator: "\n") + "\n").utf8))

        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 6, "no request was refused or repeated")
        let bodies = requests.compactMap { $0.log["body"] as? [String: Any] }
        XCTAssertTrue(bodies.suffix(4).allSatisfy { $0["speed"] == nil }, "a server ignoring speed is sent none")
        XCTAssertTrue(daemon.stop().log.contains("ignores speed"))
    }
}
