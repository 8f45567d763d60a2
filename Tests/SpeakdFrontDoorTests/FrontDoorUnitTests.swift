import Foundation
import SpeakdHTTP
import SpeakdMetrics
import SpeakdMQTT
import SpeakdProtocol
import XCTest

final class BearerTokenTests: XCTestCase {
    func testOnlyAConfiguredTokenPasses() {
        let tokens = BearerTokens(["alpha-123", "beta-456"])
        XCTAssertTrue(tokens.allows(authorization: "Bearer alpha-123"))
        XCTAssertTrue(tokens.allows(authorization: "bearer beta-456"))
        for wrong in [nil, "", "Bearer ", "Bearer alpha-12", "Bearer alpha-1234", "Bearer alpha-124", "Basic alpha-123",
                      "Bearer beta-456 ", "alpha-123"] {
            XCTAssertFalse(tokens.allows(authorization: wrong), "\(wrong ?? "nil")")
        }
        XCTAssertFalse(BearerTokens([]).allows(authorization: "Bearer "))
    }

    func testTokenFileSkipsCommentsAndBlanks() {
        XCTAssertEqual(BearerTokens.parse(file: "# tokens\n\n  one-1 \r\ntwo-2\n#three\n"), ["one-1", "two-2"])
    }

    func testLoopbackOnlyWithoutToken() {
        var configuration = HTTPFrontDoorConfiguration()
        XCTAssertNil(configuration.refusal)
        configuration.host = "0.0.0.0"
        XCTAssertNotNil(configuration.refusal)
        configuration.tokens = ["t"]
        XCTAssertNil(configuration.refusal)
        configuration.certificateFile = "/c.pem"
        XCTAssertNotNil(configuration.refusal, "a certificate without a key")
    }
}

final class RateLimiterTests: XCTestCase {
    func testBurstThenRateAndClientsApart() {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerSecond: 2, burst: 3, clock: { clock.now })
        XCTAssertEqual((0..<3).map { _ in limiter.take("a") == nil }, [true, true, true])
        let wait = try? XCTUnwrap(limiter.take("a"))
        XCTAssertEqual(wait ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertNil(limiter.take("b"), "another client has its own bucket")
        clock.now += 0.5
        XCTAssertNil(limiter.take("a"))
        XCTAssertNotNil(limiter.take("a"))
    }
}

private final class ManualClock: @unchecked Sendable {
    var now = 100.0
}

final class OpenAPIDocumentTests: XCTestCase {
    /// Every route the door serves is in docs/http-api.yaml and every documented route is served.
    func testDocumentNamesExactlyTheRoutes() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let yaml = try String(contentsOf: root.appendingPathComponent("docs/http-api.yaml"), encoding: .utf8)
        var documented: Set<String> = []
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n") {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if inPaths, line.hasPrefix("    "), !line.hasPrefix("     "), let path, ["get:", "post:", "delete:", "put:"].contains(trimmed) {
                documented.insert("\(trimmed.dropLast().uppercased()) \(path)")
            }
        }
        let served = Set(HTTPRoute.allCases.map { "\($0.method) \($0.path)" })
        XCTAssertEqual(documented, served)
    }
}

final class MetricsTests: XCTestCase {
    private func event(_ job: String, _ state: JobState, at time: Double, reason: String? = nil) -> Event {
        var event = Event(event: .job, time: time)
        event.job = job
        event.state = state
        event.reason = reason
        return event
    }

    func testJobEventsBecomeCountersAndTheHistogram() {
        let metrics = SpeakdMetrics()
        metrics.observe(event("1", .queued, at: 10))
        metrics.observe(event("1", .started, at: 10.3))
        metrics.observe(event("1", .finished, at: 12, reason: "openai failed, so espeak-ng spoke instead: down"))
        metrics.observe(event("2", .queued, at: 11))
        metrics.observe(event("2", .cancelled, at: 11.1))
        let text = metrics.render(MetricsSnapshot(queueJobs: 2, deviceUp: true, paused: false,
                                                  counts: .init(underruns: 3, cacheHits: 4, cacheMisses: 1)))
        XCTAssertTrue(text.contains("speakd_jobs_accepted_total 2\n"), text)
        XCTAssertTrue(text.contains(#"speakd_jobs_total{outcome="finished"} 1"#), text)
        XCTAssertTrue(text.contains(#"speakd_jobs_total{outcome="cancelled"} 1"#), text)
        XCTAssertTrue(text.contains("speakd_fallbacks_total 1\n"), text)
        XCTAssertTrue(text.contains(#"speakd_time_to_first_sound_seconds_bucket{le="0.3"} 1"#), text)
        XCTAssertTrue(text.contains(#"speakd_time_to_first_sound_seconds_bucket{le="0.2"} 0"#), text)
        XCTAssertTrue(text.contains("speakd_audio_underruns_total 3\n"), text)
        XCTAssertTrue(text.contains("speakd_queue_jobs 2"), text)
        // Counters advance by the daemon's own counts' differences; a reset (cache cleared) restarts from the new value.
        let again = metrics.render(MetricsSnapshot(queueJobs: 0, deviceUp: false, paused: false,
                                                   counts: .init(underruns: 5, cacheHits: 1, cacheMisses: 1)))
        XCTAssertTrue(again.contains("speakd_audio_underruns_total 5\n"), again)
        XCTAssertTrue(again.contains("speakd_phrase_cache_hits_total 5\n"), again)
        XCTAssertTrue(again.contains("speakd_audio_device_up 0"), again)
    }
}

final class DiscoveryTests: XCTestCase {
    func testEachEntityHasWhatHomeAssistantRequires() throws {
        let configuration = MQTTConfiguration(node: "kitchen")
        let configs = Discovery.configs(configuration, version: "1.0")
        XCTAssertEqual(configs.map(\.topic), ["homeassistant/notify/speakd_kitchen/say/config",
                                              "homeassistant/sensor/speakd_kitchen/state/config",
                                              "homeassistant/button/speakd_kitchen/stop/config"])
        for (topic, payload) in configs {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any], topic)
            XCTAssertNotNil(object["unique_id"] as? String, topic)
            XCTAssertEqual(object["availability_topic"] as? String, "speakd/kitchen/availability")
            XCTAssertEqual((object["device"] as? [String: Any])?["identifiers"] as? [String], ["speakd_kitchen"])
            let required = topic.contains("/sensor/") ? "state_topic" : "command_topic"
            XCTAssertNotNil(object[required] as? String, "\(topic) lacks \(required)")
        }
    }
}
