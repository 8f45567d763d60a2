import SpeakdCore
import SpeakdSynthesis
import SpeakdText
import XCTest

/// espeak-ng places words exactly (its word events); that is both what marks use on the embedded engine and the
/// ground truth for the estimate used on upstreams that give no timings (`MarkTiming`), measured here on real speech.
final class EspeakWordTimingTests: XCTestCase {
    static let sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "Orca puts a mark before every word, and speech dispatcher reports each one as it is heard.",
        "At seven o'clock, the washing machine finished its cycle; please empty it soon.",
        "Screen reader users listen at two to four times the normal speed, every day, for hours.",
        "A long sentence with many small words in it is a fair test of where each of them begins to sound.",
        "Someone is at the front door.",
        "The temperature in the living room has dropped below eighteen degrees.",
    ]

    private func synthesize(_ text: String, speed: Double = 1) async throws -> (samples: [Int16], words: [WordStart], rate: Int) {
        let engine = try EspeakSynthesizer()
        var samples: [Int16] = []
        var words: [WordStart] = []
        try await engine.synthesize(SynthesisRequest(input: text, voice: "en-us", model: "", speed: speed)) { chunk in
            samples += chunk.samples
            words += chunk.wordStarts
        }
        return (samples, words, engine.format.sampleRate)
    }

    func testEveryWordIsReportedInOrderWithinTheAudio() async throws {
        let text = "One two three, four five."
        let result = try await synthesize(text)
        XCTAssertEqual(result.words.map(\.textOffset), [0, 4, 8, 15, 20])
        XCTAssertEqual(result.words.map(\.frame), result.words.map(\.frame).sorted())
        XCTAssertLessThan(try XCTUnwrap(result.words.last).frame, result.samples.count)
        XCTAssertGreaterThan(try XCTUnwrap(result.words.last).frame, result.samples.count / 2)
    }

    /// The estimate against espeak-ng's own word onsets, at speed 1 and 2.5: prints the error distribution.
    func testTheEstimatedMarksAreCloseToTheRealWordOnsets() async throws {
        for speed in [1.0, 2.5] {
            var errors: [Double] = []
            for sentence in Self.sentences {
                let result = try await synthesize(sentence, speed: speed)
                let estimated = MarkTiming.frames(forOffsets: result.words.map(\.textOffset), in: sentence,
                                                  samples: result.samples, channels: 1, sampleRate: result.rate)
                for (guess, truth) in zip(estimated, result.words) {
                    errors.append(abs(Double(guess - truth.frame)) * 1000 / Double(result.rate))
                }
            }
            errors.sort()
            let median = errors[errors.count / 2]
            let p95 = errors[min(errors.count - 1, errors.count * 95 / 100)]
            print("estimated marks vs espeak-ng word onsets at speed \(speed), \(errors.count) words: median \(Int(median)) ms, p95 \(Int(p95)) ms, max \(Int(errors.last!)) ms")
            XCTAssertLessThan(median, 120 / speed)
            // Beyond 2x espeak-ng's audio is time-stretched, and its word onsets scaled with it.
            XCTAssertLessThan(p95, 400 / speed)
        }
    }
}
