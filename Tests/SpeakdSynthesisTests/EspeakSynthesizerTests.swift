import XCTest
import SpeakdAudio
@testable import SpeakdSynthesis

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
