import NIOHTTP1
import XCTest
@testable import SpeakdSynthesis
import SpeakdCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

final class RetryPolicyTests: XCTestCase {
    private let retryable = SynthesisError(.unavailable, "503", httpStatus: 503, isRetryable: true)

    func testBackoffGrowsIsJitteredAndBounded() {
        let policy = RetryPolicy()
        XCTAssertEqual(policy.delay(after: retryable, attempt: 1, random: 1), 0.25)
        XCTAssertEqual(policy.delay(after: retryable, attempt: 1, random: 0), 0.125)
        XCTAssertEqual(policy.delay(after: retryable, attempt: 3, random: 1), 1.0)
        XCTAssertNil(policy.delay(after: retryable, attempt: 4, random: 1), "four tries in all")
        var long = RetryPolicy()
        long.maxAttempts = 20
        XCTAssertEqual(long.delay(after: retryable, attempt: 12, random: 1), 4.0, "capped")
    }

    func testTheUpstreamsWaitIsHonouredUnlessTooLong() {
        var asked = retryable
        asked.retryAfterSeconds = 2
        XCTAssertEqual(RetryPolicy().delay(after: asked, attempt: 1, random: 1), 2)
        asked.retryAfterSeconds = 60
        XCTAssertNil(RetryPolicy().delay(after: asked, attempt: 1, random: 1), "a minute's wait: better the fallback now")
    }

    func testRefusalsAreNotRetried() {
        XCTAssertNil(RetryPolicy().delay(after: SynthesisError(.authentication, "401", httpStatus: 401), attempt: 1))
        XCTAssertNil(RetryPolicy().delay(after: SynthesisError(.unavailable, "quota", httpStatus: 429), attempt: 1))
    }

    func testRetryAfterHeaders() {
        XCTAssertEqual(RetryAfter.seconds(from: HTTPHeaders([("Retry-After", "3")])), 3)
        let now = Date(timeIntervalSince1970: 1_445_412_470)   // 2015-10-21 07:27:50 GMT
        XCTAssertEqual(RetryAfter.seconds(from: HTTPHeaders([("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")]), now: now), 10)
        XCTAssertEqual(RetryAfter.seconds(from: HTTPHeaders([("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")])), 360)
        XCTAssertEqual(RetryAfter.duration("20ms"), 0.02)
        XCTAssertEqual(RetryAfter.duration("1.5s"), 1.5)
        XCTAssertNil(RetryAfter.seconds(from: HTTPHeaders()))
    }

    /// The wrapper retries a failure that delivered nothing, and never one that delivered audio.
    func testRetriesOnlyBeforeAnyAudio() async throws {
        final class Flaky: Synthesizer, @unchecked Sendable {
            let engineName = "flaky"
            var calls = 0
            let failAfterAudio: Bool
            init(failAfterAudio: Bool) { self.failAfterAudio = failAfterAudio }
            func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
                calls += 1
                if failAfterAudio { try await deliver(AudioChunk(format: .openAISpeech, samples: [1, 2])) }
                if calls < 3 || failAfterAudio { throw SynthesisError(.unavailable, "down", isRetryable: true) }
                try await deliver(AudioChunk(format: .openAISpeech, samples: [3]))
            }
        }
        var fast = RetryPolicy()
        fast.initialDelaySeconds = 0.001
        let recovering = Flaky(failAfterAudio: false)
        var samples: [Int16] = []
        try await RetryingSynthesizer(recovering, policy: fast).synthesize(SynthesisRequest(input: "x", voice: "v", model: "m")) {
            samples += $0.samples
        }
        XCTAssertEqual(recovering.calls, 3)
        XCTAssertEqual(samples, [3])
        let midway = Flaky(failAfterAudio: true)
        do {
            try await RetryingSynthesizer(midway, policy: fast).synthesize(SynthesisRequest(input: "x", voice: "v", model: "m")) { _ in }
            XCTFail("expected the failure")
        } catch {
            XCTAssertEqual(midway.calls, 1, "audio already heard must not be requested again")
        }
    }
}
