import XCTest
@testable import SpeakdText

final class TextSegmenterTests: XCTestCase {
    /// Sentence boundaries, one case a line: the text, and where it must be cut (with packing off: each sentence is
    /// its own segment, so the table shows the boundaries themselves).
    static let boundaries: [(String, [String])] = [
        ("Hello.", ["Hello."]),
        ("Hello. World.", ["Hello.", "World."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("What?! No way.", ["What?!", "No way."]),
        // Abbreviations and titles
        ("Dr. Smith is here. He waits.", ["Dr. Smith is here.", "He waits."]),
        ("Mr. and Mrs. Jones left.", ["Mr. and Mrs. Jones left."]),
        ("Ask Prof. Lee. She knows.", ["Ask Prof. Lee.", "She knows."]),
        ("Use e.g. a hammer. Or not.", ["Use e.g. a hammer.", "Or not."]),
        ("That is, i.e. the end. Go.", ["That is, i.e. the end.", "Go."]),
        ("Bring pens, paper, etc. and food.", ["Bring pens, paper, etc. and food."]),
        ("Bring pens, paper, etc. Then leave.", ["Bring pens, paper, etc.", "Then leave."]),
        ("Meet at 5 p.m. today. Bye.", ["Meet at 5 p.m. today.", "Bye."]),
        ("He moved to the U.S. last year.", ["He moved to the U.S. last year."]),
        ("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."]),
        ("See fig. 3 for details. Next.", ["See fig. 3 for details.", "Next."]),
        ("Acme Inc. was founded. It grew.", ["Acme Inc. was founded.", "It grew."]),
        // Numbers, versions, decimals
        ("Pi is 3.14 roughly. Yes.", ["Pi is 3.14 roughly.", "Yes."]),
        ("Install v2.0.1 now. Done.", ["Install v2.0.1 now.", "Done."]),
        ("It cost 1,000.50 dollars. Cheap.", ["It cost 1,000.50 dollars.", "Cheap."]),
        ("It happened in 1999. Then it ended.", ["It happened in 1999.", "Then it ended."]),
        ("1. Buy milk\n2. Call mom", ["1. Buy milk", "2. Call mom"]),
        // Ellipses
        ("Wait... what happened?", ["Wait... what happened?"]),
        ("I waited... Nobody came.", ["I waited...", "Nobody came."]),
        ("Well… maybe later.", ["Well… maybe later."]),
        ("It ended… Then silence.", ["It ended…", "Then silence."]),
        // URLs and e-mail addresses
        ("Visit example.com for more. Thanks.", ["Visit example.com for more.", "Thanks."]),
        ("Go to https://a.b/c.html now. Ok.", ["Go to https://a.b/c.html now.", "Ok."]),
        ("Mail jo.doe@mail.example.org today. Bye.", ["Mail jo.doe@mail.example.org today.", "Bye."]),
        ("The site is example.com. It works.", ["The site is example.com.", "It works."]),
        // Quotes and brackets after the full stop
        ("He said \"Stop.\" Then he left.", ["He said \"Stop.\"", "Then he left."]),
        ("(This is quoted.) Next one.", ["(This is quoted.)", "Next one."]),
        ("She asked “Why?” He shrugged.", ["She asked “Why?”", "He shrugged."]),
        ("«Non.» Oui.", ["«Non.»", "Oui."]),
        // Newlines
        ("Title\nFirst line of text.", ["Title", "First line of text."]),
        ("Para one\n\nPara two", ["Para one", "Para two"]),
        ("A line that goes on,\nand on.", ["A line that goes on,\nand on."]),
        ("Roses are red\nViolets are blue", ["Roses are red", "Violets are blue"]),
        // Other scripts
        ("今日は晴れです。明日は雨です。", ["今日は晴れです。", "明日は雨です。"]),
        ("你好！你好吗？很好。", ["你好！", "你好吗？", "很好。"]),
        ("هل أنت بخير؟ نعم.", ["هل أنت بخير؟", "نعم."]),
        ("नमस्ते। आप कैसे हैं।", ["नमस्ते।", "आप कैसे हैं।"]),
        ("Привет. Как дела?", ["Привет.", "Как дела?"]),
        // No punctuation
        ("no punctuation at all here", ["no punctuation at all here"]),
        ("   ", []),
        ("", []),
    ]

    func testSentenceBoundaries() {
        XCTAssertGreaterThanOrEqual(Self.boundaries.count, 40)
        let segmenter = TextSegmenter(maxCharacters: 16, openingMaxCharacters: 0)
        for (text, expected) in Self.boundaries {
            let sentences = segmenter.sentences(Array(text)).map { String($0).trimmedForDisplay }.filter { !$0.isEmpty }
            XCTAssertEqual(sentences, expected, text)
        }
    }

    func testShortTextIsOneSegment() {
        XCTAssertEqual(TextSegmenter().segments(of: "Hello. World!"), ["Hello. World!"])
        XCTAssertEqual(TextSegmenter().segments(of: "  \n "), [])
    }

    func testTheOpeningIsTheFirstSentenceThenSegmentsGrow() {
        let sentences = (1...200).map { "This is sentence number \($0) of a long text." }
        let segments = TextSegmenter().segments(of: sentences.joined(separator: " "))
        XCTAssertEqual(segments.first, sentences[0], "the opening is the first sentence alone")
        XCTAssertLessThanOrEqual(segments[1].unicodeScalars.count, 400)
        XCTAssertGreaterThan(segments[1].unicodeScalars.count, 300, "the second segment packs sentences")
        XCTAssertLessThanOrEqual(segments[2].unicodeScalars.count, 1_200)
        XCTAssertGreaterThan(segments[3].unicodeScalars.count, 1_200, "then segments reach the full size")
        XCTAssertTrue(segments.allSatisfy { $0.hasSuffix(".") }, "every join falls between sentences")
    }

    func testALongFirstSentenceOpensWithItsFirstClause() {
        let text = "When the washing machine has finished its long cycle, and the dryer has started, the kitchen "
            + "light turns green, which means that everything is fine and nobody needs to do anything. Next."
        let segments = TextSegmenter().segments(of: text)
        XCTAssertEqual(segments.first, "When the washing machine has finished its long cycle,")
        XCTAssertEqual(segments.joined(separator: " "), text)
    }

    func testNoSegmentExceedsTheLimitAndNoWordIsCut() {
        let segmenter = TextSegmenter(maxCharacters: 30, openingMaxCharacters: 0)
        let text = "a rather long run of words with no punctuation at all that just keeps going on and on"
        let segments = segmenter.segments(of: text)
        XCTAssertGreaterThan(segments.count, 2)
        for segment in segments { XCTAssertLessThanOrEqual(segment.unicodeScalars.count, 30, segment) }
        XCTAssertEqual(segments.joined(separator: " "), text)
        let clauses = segmenter.segments(of: "one two three four five six, seven eight nine ten")
        XCTAssertEqual(clauses.first, "one two three four five six,")
    }

    func testAWordLongerThanTheLimitIsSplitBetweenCharacters() {
        let segments = TextSegmenter(maxCharacters: 16, openingMaxCharacters: 0).segments(of: String(repeating: "é", count: 40))
        XCTAssertEqual(segments.map { $0.unicodeScalars.count }, [16, 16, 8])
    }

    func testLongTextAtTheRealLimit() {
        let text = (1...1000).map { "Sentence \($0) says something." }.joined(separator: " ")
        let segments = TextSegmenter().segments(of: text)
        XCTAssertTrue(segments.allSatisfy { $0.unicodeScalars.count <= 4096 })
        XCTAssertEqual(segments.joined(separator: " "), text)
    }

    /// Properties over generated texts mixing every trap: joining the segments gives back the text (modulo
    /// whitespace), no segment is empty, none exceeds the limit.
    func testPropertiesOverGeneratedTexts() {
        let pieces = ["Dr.", "Smith", "said", "3.14", "v2.0.1", "e.g.", "etc.", "example.com", "jo@ex.org", "…", "...",
                      "\"Stop.\"", "(yes.)", "Really?!", "今日は。", "नमस्ते।", "\n", "\n\n", ",", "word", "Another",
                      "1.", "U.S.", String(repeating: "x", count: 70), "—", "a,b", "end."]
        var generator = SplitMix(seed: 42)
        for limit in [16, 40, 200, 4096] {
            for opening in [0, 160] {
                let segmenter = TextSegmenter(maxCharacters: limit, openingMaxCharacters: opening)
                for _ in 0..<60 {
                    let count = Int(generator.next() % 300)
                    var text = ""
                    for _ in 0..<count {
                        text += pieces[Int(generator.next() % UInt64(pieces.count))]
                        text += generator.next() % 5 == 0 ? "  " : " "
                    }
                    let segments = segmenter.segments(of: text)
                    XCTAssertTrue(segments.allSatisfy { !$0.isEmpty }, "empty segment for \(text.debugDescription)")
                    XCTAssertTrue(segments.allSatisfy { $0.unicodeScalars.count <= limit }, "over \(limit)")
                    let squeeze = { (value: String) in value.unicodeScalars.filter { !$0.properties.isWhitespace }.map(String.init).joined() }
                    XCTAssertEqual(squeeze(segments.joined()), squeeze(text), "text lost or changed (limit \(limit))")
                }
            }
        }
    }
}

/// A small deterministic generator for the property test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
