import XCTest
@testable import SpeakdSynthesis
import SpeakdCore

/// The embedded engine, in process (it needs only espeak-ng's data files).
final class EspeakSynthesizerTests: XCTestCase {
    func testSpeaksAtItsOwnRate() async throws {
        let engine = try EspeakSynthesizer()
        var samples = 0
        var format: PCMFormat?
        try await engine.synthesize(SynthesisRequest(input: "Hello there.", voice: "en-us", model: "")) { chunk in
            samples += chunk.samples.count
            format = chunk.format
        }
        XCTAssertEqual(format, engine.format)
        XCTAssertGreaterThan(samples, engine.format.sampleRate / 4, "less than a quarter second for two words")
    }

    /// Jobs cancelled while espeak-ng is still producing (a notification replaced by the next, dozens a second)
    /// leave their hand-over unconsumed. That used to free a DispatchSemaphore below its initial value, which
    /// libdispatch punishes with SIGILL: this test crashed the test process before the fix.
    func testCancellingMidSynthesisManyTimesIsSafe() async throws {
        let engine = try EspeakSynthesizer()
        let long = String(repeating: "This sentence keeps the engine busy for a while. ", count: 20)
        for _ in 0..<40 {
            let task = Task {
                try await engine.synthesize(SynthesisRequest(input: long, voice: "en-us", model: "")) { _ in
                    try await Task.sleep(for: .milliseconds(20))   // a slow consumer: the producer fills its slots
                }
            }
            try await Task.sleep(for: .milliseconds(30))
            task.cancel()
            let result = await task.result
            XCTAssertThrowsError(try result.get(), "a cancelled synthesis must not end as a success")
        }
        // The engine still works afterwards.
        var samples = 0
        try await engine.synthesize(SynthesisRequest(input: "Still here.", voice: "en-us", model: "")) { samples += $0.samples.count }
        XCTAssertGreaterThan(samples, 0)
    }
}

/// espeak-ng honours every speed of the contract: natively within 80–450 words per minute, time-stretched beyond.
final class EspeakSpeedTests: XCTestCase {
    private func seconds(_ engine: EspeakSynthesizer, _ text: String, speed: Double) async throws -> Double {
        var samples = 0
        try await engine.synthesize(SynthesisRequest(input: text, voice: "en-us", model: "", speed: speed)) { samples += $0.samples.count }
        return Double(samples) / Double(engine.format.sampleRate)
    }

    func testEverySpeedFromAQuarterToFourTimes() async throws {
        let engine = try EspeakSynthesizer()
        let text = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest to hide."
        let normal = try await seconds(engine, text, speed: 1)
        var lines: [String] = []
        for speed in [0.25, 0.5, 2.0, 2.5, 3.0, 4.0] {
            let measured = try await seconds(engine, text, speed: speed)
            lines.append("\(speed)x: \(measured) s, ratio to 1x/speed \(measured / (normal / speed))")
            XCTAssertEqual(measured / (normal / speed), 1, accuracy: 0.05, "\(speed)×: \(measured) s against \(normal) s at 1×")
        }
        print("espeak-ng speeds, 1x = \(normal) s:\n" + lines.joined(separator: "\n"))
    }
}
