import XCTest
@testable import SpeakdText

/// The mark-placement model against audio whose word boundaries are known: one tone burst per word, with silence
/// between words, before the speech (100 ms) and after it (125 ms), as a real upstream's answers have. Burst
/// lengths follow a different model from the estimator's (45 ms per vowel group, 20 ms per other letter, a longer
/// pause after punctuation), so the errors measured are the model's, not zero by construction.
final class MarkTimingTests: XCTestCase {
    static let rate = 24_000

    struct Rendered {
        var samples: [Int16]
        /// Scalar offset of each word's first letter, and the frame where its burst starts.
        var words: [(offset: Int, frame: Int)]
    }

    static func render(_ text: String) -> Rendered {
        var samples = [Int16](repeating: 0, count: rate / 10)
        var words: [(Int, Int)] = []
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var phase = 0.0
        while index < scalars.count {
            if scalars[index].properties.isWhitespace { index += 1; continue }
            let start = index
            while index < scalars.count, !scalars[index].properties.isWhitespace { index += 1 }
            let word = scalars[start..<index]
            var milliseconds = 0.0
            var previousVowel = false
            for scalar in word {
                let vowel = "aeiouyAEIOUY".unicodeScalars.contains(scalar)
                if vowel && !previousVowel { milliseconds += 45 } else if scalar.properties.isAlphabetic && !vowel { milliseconds += 20 }
                if scalar.properties.numericType != nil { milliseconds += 90 }
                previousVowel = vowel
            }
            words.append((start, samples.count))
            for _ in 0..<(rate * Int(milliseconds) / 1000) {
                phase += 2 * Double.pi * 220 / Double(rate)
                samples.append(Int16(9_000 * sin(phase)))
            }
            let pause = [",", ";", ":"].contains(word.last.map(Character.init)) ? 180
                : [".", "!", "?"].contains(word.last.map(Character.init)) ? 300 : 40
            samples += [Int16](repeating: 0, count: rate * pause / 1000)
        }
        samples += [Int16](repeating: 0, count: rate / 8)
        return Rendered(samples: samples, words: words)
    }

    static let sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "Orca puts a mark before every word, and speech dispatcher reports each one as it is heard.",
        "At 7 o'clock, the washing machine finished its cycle; please empty it soon.",
        "Screen reader users listen at two to four times the normal speed, every day, for hours.",
        "A long sentence with many small words in it is a fair test of where each of them begins to sound.",
    ]

    func testMarksLandNearTheWordOnsets() {
        var errors: [Double] = []
        for sentence in Self.sentences {
            let rendered = Self.render(sentence)
            let frames = MarkTiming.frames(forOffsets: rendered.words.map(\.offset), in: sentence,
                                           samples: rendered.samples, channels: 1, sampleRate: Self.rate)
            for (estimated, truth) in zip(frames, rendered.words) {
                errors.append(abs(Double(estimated - truth.frame)) * 1000 / Double(Self.rate))
            }
        }
        errors.sort()
        let median = errors[errors.count / 2]
        let p95 = errors[min(errors.count - 1, errors.count * 95 / 100)]
        print("mark timing error over \(errors.count) words: median \(Int(median)) ms, p95 \(Int(p95)) ms, max \(Int(errors.last!)) ms")
        XCTAssertLessThan(median, 120)
        XCTAssertLessThan(p95, 250)
    }

    func testTheFirstMarkIsTheSpeechOnsetAndTheLastTheEnd() {
        let text = "Hello there."
        let rendered = Self.render(text)
        let frames = MarkTiming.frames(forOffsets: [0, text.unicodeScalars.count], in: text, samples: rendered.samples,
                                       channels: 1, sampleRate: Self.rate)
        XCTAssertEqual(frames[0], Self.rate / 10, "the onset after 100 ms of silence")
        XCTAssertEqual(frames[1], rendered.samples.count, "a mark at the end is the end of the audio")
    }

    func testMarksAreInOrderAndStereoCountsFrames() {
        let text = "One two three four five."
        let mono = Self.render(text)
        let stereo = mono.samples.flatMap { [$0, $0] }
        let offsets = mono.words.map(\.offset)
        let monoFrames = MarkTiming.frames(forOffsets: offsets, in: text, samples: mono.samples, channels: 1, sampleRate: Self.rate)
        let stereoFrames = MarkTiming.frames(forOffsets: offsets, in: text, samples: stereo, channels: 2, sampleRate: Self.rate)
        XCTAssertEqual(monoFrames, stereoFrames)
        XCTAssertEqual(monoFrames, monoFrames.sorted())
    }

    func testSilenceOnlyAudioStillPlacesMarks() {
        let frames = MarkTiming.frames(forOffsets: [0, 3, 5], in: "a b c", samples: [Int16](repeating: 0, count: 2_400),
                                       channels: 1, sampleRate: Self.rate)
        XCTAssertEqual(frames.count, 3)
        XCTAssertEqual(frames.last, 2_400)
    }

    func testSegmentStartsAreFoundInTheInput() {
        let input = "  First sentence.   Second one!\nThird."
        XCTAssertEqual(TextSegmenter.starts(of: ["First sentence.", "Second one!", "Third."], in: input), [2, 20, 32])
        XCTAssertEqual(TextSegmenter.starts(of: ["a", "a"], in: "a a"), [0, 2], "a repeated piece is found after the last")
    }
}
