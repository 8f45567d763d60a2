import XCTest
@testable import SpeakdSynthesis

/// What an upstream's speed range becomes from refusals and from its audio's length.
final class UpstreamSpeedTests: XCTestCase {
    func testRefusalsNarrowTheAssumedRange() {
        let speed = UpstreamSpeed()
        XCTAssertEqual(speed.range, 0.25...4.0)
        XCTAssertEqual(speed.upstreamSpeed(for: 3), 3)
        XCTAssertTrue(speed.learn(SpeedRefusal(maximum: 2), asked: 3))
        XCTAssertEqual(speed.range, 0.25...2.0)
        XCTAssertEqual(speed.upstreamSpeed(for: 3), 2)
        XCTAssertTrue(speed.learn(SpeedRefusal(minimum: 1), asked: 0.5))
        XCTAssertEqual(speed.range, 1.0...2.0)
        XCTAssertEqual(speed.upstreamSpeed(for: 0.25), 1)
        XCTAssertEqual(speed.origin, .refusal)
        // Refused within its own bounds: the server takes no speed; asked for none and refused, nothing is left.
        XCTAssertTrue(speed.learn(SpeedRefusal(maximum: 2), asked: 2))
        XCTAssertEqual(speed.range, 1.0...1.0)
        XCTAssertNil(speed.upstreamSpeed(for: 3))
        XCTAssertFalse(speed.learn(SpeedRefusal(maximum: 2), asked: nil))
    }

    func testARefusalWithoutBoundsMeansNoSpeedAtAll() {
        let speed = UpstreamSpeed()
        XCTAssertTrue(speed.learn(SpeedRefusal(), asked: 1.5))
        XCTAssertEqual(speed.range, UpstreamSpeed.ignoresSpeed)
        XCTAssertNil(speed.upstreamSpeed(for: 0.5))
    }

    func testConfiguredRangeIsNeverRelearned() {
        let speed = UpstreamSpeed(configured: 1.0...2.0)
        XCTAssertEqual(speed.upstreamSpeed(for: 4), 2)
        XCTAssertFalse(speed.learn(SpeedRefusal(maximum: 1.5), asked: 2))
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 100, asked: 1, seconds: 5))
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 100, asked: 2, seconds: 5))
        XCTAssertEqual(speed.range, 1.0...2.0)
    }

    func testAServerThatIgnoresSpeedIsRecognisedByDuration() {
        let speed = UpstreamSpeed()
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 50, asked: nil, seconds: 3.0))
        // Sentence-to-sentence noise at speed 1 is not a finding.
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 40, asked: 1.0, seconds: 2.7))
        // Too close in speed to tell.
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 50, asked: 1.2, seconds: 3.0))
        // Another voice has no estimate yet.
        XCTAssertFalse(speed.observe(model: "m", voice: "w", characters: 50, asked: 2.5, seconds: 3.0))
        XCTAssertEqual(speed.range, 0.25...4.0)
        // Asked for 2.5×, got the speed-1 length (not 1.2 s): it ignores speed.
        XCTAssertTrue(speed.observe(model: "m", voice: "v", characters: 50, asked: 2.5, seconds: 2.9))
        XCTAssertEqual(speed.range, UpstreamSpeed.ignoresSpeed)
        XCTAssertEqual(speed.origin, .duration)
        XCTAssertNil(speed.upstreamSpeed(for: 2.5))
    }

    func testAServerThatHonoursSpeedIsLeftAlone() {
        let speed = UpstreamSpeed()
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 50, asked: 1.0, seconds: 3.0))
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 50, asked: 2.5, seconds: 1.3))
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 50, asked: 0.5, seconds: 5.5))
        XCTAssertFalse(speed.observe(model: "m", voice: "v", characters: 5, asked: 4, seconds: 3.0), "too short to judge")
        XCTAssertEqual(speed.range, 0.25...4.0)
    }
}
