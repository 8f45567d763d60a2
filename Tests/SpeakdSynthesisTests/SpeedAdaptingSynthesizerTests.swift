import Foundation
@testable import SpeakdSynthesis
import XCTest
import SpeakdCore

/// `SpeedAdaptingSynthesizer` over fake upstreams: one that refuses speed outside 1.0–2.0 as Kokoro does, one that
/// ignores speed. Every listener speed comes out at the natural length / speed, from the upstream itself.
final class SpeedAdaptingSynthesizerTests: XCTestCase {
    /// 60 ms of audio per character at speed 1 (a 140 Hz voice), in chunks of 100 ms, as an upstream streams it.
    final class FakeUpstream: Synthesizer, @unchecked Sendable {
        enum Behaviour { case refusesOutside(ClosedRange<Double>), ignoresSpeed, honoursSpeed }
        let engineName = "openai"
        let behaviour: Behaviour
        private let lock = NSLock()
        private var _asked: [Double?] = []
        var asked: [Double?] { lock.withLock { _asked } }
        static let secondsPerCharacter = 0.06
        static let format = PCMFormat(sampleRate: 24_000)

        init(_ behaviour: Behaviour) { self.behaviour = behaviour }

        func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
            lock.withLock { _asked.append(request.speed) }
            var speed = request.speed ?? 1
            switch behaviour {
            case .refusesOutside(let range) where !range.contains(speed):
                let body = speed > range.upperBound
                    ? #"{"detail":[{"type":"less_than_equal","loc":["body","speed"],"msg":"Input should be less than or equal to \#(range.upperBound)","input":\#(speed),"ctx":{"le":\#(range.upperBound)}}]}"#
                    : #"{"detail":[{"type":"greater_than_equal","loc":["body","speed"],"msg":"Input should be greater than or equal to \#(range.lowerBound)","input":\#(speed),"ctx":{"ge":\#(range.lowerBound)}}]}"#
                var error = SynthesisError(.rejected, "upstream answered 422", httpStatus: 422)
                error.speedRefusal = SpeedRefusal.parse(Array(body.utf8))
                throw error
            case .ignoresSpeed: speed = 1
            default: break
            }
            let frames = Int(Double(request.input.count) * Self.secondsPerCharacter / speed * 24_000)
            var start = 0
            while start < frames {
                let end = min(start + 2_400, frames)
                try await deliver(AudioChunk(format: Self.format, samples: (start..<end).map { Int16(9_000 * sin(2 * .pi * 140 * Double($0) / 24_000)) }))
                start = end
            }
        }
    }

    private let text = "A sentence of a plausible length for one upstream request, spoken at a listener's speed."

    /// Synthesizes at `speed`; returns the seconds delivered.
    private func seconds(_ engine: SpeedAdaptingSynthesizer, speed: Double?) async throws -> Double {
        var frames = 0
        try await engine.synthesize(SynthesisRequest(input: text, voice: "v", model: "m", speed: speed)) { chunk in
            XCTAssertEqual(chunk.format, FakeUpstream.format)
            frames += chunk.samples.count
        }
        return Double(frames) / 24_000
    }

    private var natural: Double { Double(text.count) * FakeUpstream.secondsPerCharacter }

    func testAKokoroLikeRefusalIsLearnedAndTheRestStretched() async throws {
        let upstream = FakeUpstream(.refusesOutside(1.0...2.0))
        let engine = SpeedAdaptingSynthesizer(upstream, speed: UpstreamSpeed())
        for speed in [1.0, 0.5, 2.5, 4.0, 0.25, 1.5] {
            let played = try await seconds(engine, speed: speed)
            XCTAssertEqual(played / (natural / speed), 1, accuracy: 0.02, "speed \(speed): \(played) s")
        }
        // Each refusal cost one immediate retry, once: 0.5 → 1, 2.5 → 2, then 4 and 0.25 asked within the range.
        XCTAssertEqual(upstream.asked, [1.0, 0.5, 1.0, 2.5, 2.0, 2.0, 1.0, 1.5])
        XCTAssertEqual(engine.speed.range, 1.0...2.0)
    }

    func testAServerIgnoringSpeedIsDetectedAndStretchedFully() async throws {
        let upstream = FakeUpstream(.ignoresSpeed)
        let engine = SpeedAdaptingSynthesizer(upstream, speed: UpstreamSpeed())
        let atOne = try await seconds(engine, speed: 1.0)
        XCTAssertEqual(atOne, natural, accuracy: 0.01)
        // This one reveals it (too late for itself: it plays at the natural length).
        _ = try await seconds(engine, speed: 2.5)
        XCTAssertEqual(engine.speed.range, UpstreamSpeed.ignoresSpeed)
        for speed in [0.5, 2.5, 4.0, 0.25] {
            let played = try await seconds(engine, speed: speed)
            XCTAssertEqual(played / (natural / speed), 1, accuracy: 0.02, "speed \(speed): \(played) s")
        }
        XCTAssertEqual(upstream.asked.suffix(4), [nil, nil, nil, nil], "an upstream ignoring speed is sent none")
    }

    func testAConfiguredRangeIsUsedFromTheFirstRequest() async throws {
        let upstream = FakeUpstream(.ignoresSpeed)
        let engine = SpeedAdaptingSynthesizer(upstream, speed: UpstreamSpeed(configured: UpstreamSpeed.ignoresSpeed))
        let played = try await seconds(engine, speed: 3.0)
        XCTAssertEqual(played / (natural / 3), 1, accuracy: 0.02)
        XCTAssertEqual(upstream.asked, [nil])
    }

    func testWithinRangeAudioPassesUntouched() async throws {
        let upstream = FakeUpstream(.honoursSpeed)
        let engine = SpeedAdaptingSynthesizer(upstream, speed: UpstreamSpeed())
        var direct: [Int16] = [], adapted: [Int16] = []
        let request = SynthesisRequest(input: text, voice: "v", model: "m", speed: 1.25)
        try await upstream.synthesize(request) { direct += $0.samples }
        try await engine.synthesize(request) { adapted += $0.samples }
        XCTAssertEqual(adapted, direct, "a speed the upstream honours must not be re-processed")
        _ = try await seconds(engine, speed: nil)
        XCTAssertEqual(upstream.asked.last, .some(nil), "a job naming no speed names none upstream")
    }

    func testOtherRefusalsAreNotTouched() async throws {
        struct Refusing: Synthesizer {
            let engineName = "openai"
            func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
                throw SynthesisError(.rejected, "upstream answered 400: Voice 'nope' is not available", httpStatus: 400)
            }
        }
        let speed = UpstreamSpeed()
        let engine = SpeedAdaptingSynthesizer(Refusing(), speed: speed)
        do {
            try await engine.synthesize(SynthesisRequest(input: text, voice: "nope", model: "m", speed: 3)) { _ in }
            XCTFail("a refusal that is not about speed must stand")
        } catch let error as SynthesisError {
            XCTAssertEqual(error.httpStatus, 400)
        }
        XCTAssertEqual(speed.range, UpstreamSpeed.contractRange)
    }
}
