@testable import SpeechDispatcherModule
import XCTest

final class SSMLTests: XCTestCase {
    private typealias Piece = SpeechPlan.Piece

    func testPlainTextWrappedBySpeechDispatcher() {
        let plan = SpeechPlan(ssml: "<speak>Hello world.<mark name=\"__spd_0\"/> Second sentence.</speak>")
        XCTAssertEqual(plan, SpeechPlan(pieces: [Piece(text: "Hello world."), Piece(marks: ["__spd_0"], text: "Second sentence.")]))
    }

    func testNestedTagsAreStrippedAndEntitiesDecoded() {
        let plan = SpeechPlan(ssml: "<speak><p><s>Tom &amp; Jerry &lt;3 <emphasis level=\"strong\">caf&#233;</emphasis></s><s>&#x263A; &quot;hi&apos;</s></p></speak>")
        XCTAssertEqual(plan.pieces, [Piece(text: "Tom & Jerry <3 café \u{263A} \"hi'")])
        XCTAssertEqual(plan.trailingMarks, [])
    }

    func testMarksAtStartEndAndAdjacent() {
        let plan = SpeechPlan(ssml: "<speak><mark name=\"a\"/>One <mark name='b'/><mark name=\"c\"/>two<mark name=\"d\"/>  <mark name=\"e\"/></speak>")
        XCTAssertEqual(plan.pieces, [Piece(marks: ["a"], text: "One"), Piece(marks: ["b", "c"], text: "two")])
        XCTAssertEqual(plan.trailingMarks, ["d", "e"])
        XCTAssertEqual(plan.allMarks, ["a", "b", "c", "d", "e"])
    }

    func testWhitespaceOnlyTextBetweenMarksMovesTheMarksToTheNextPiece() {
        let plan = SpeechPlan(ssml: "<speak>word <mark name=\"1:5\"/> \n <mark name=\"6:10\"/>next</speak>")
        XCTAssertEqual(plan.pieces, [Piece(text: "word"), Piece(marks: ["1:5", "6:10"], text: "next")])
    }

    func testOrcaStyleMarkBeforeEveryWord() {
        let plan = SpeechPlan(ssml: "<speak><mark name=\"0:3\"/>The <mark name=\"4:9\"/>quick <mark name=\"10:15\"/>fox.</speak>")
        XCTAssertEqual(plan.pieces.map(\.text), ["The", "quick", "fox."])
        XCTAssertEqual(plan.pieces.map(\.marks), [["0:3"], ["4:9"], ["10:15"]])
    }

    func testMarkWithClosingTagAndNamespaceAndEntityInName() {
        let plan = SpeechPlan(ssml: "<speak>A<ssml:mark name=\"x&amp;y\"></ssml:mark>B</speak>")
        XCTAssertEqual(plan.pieces, [Piece(text: "A"), Piece(marks: ["x&y"], text: "B", joinsPrevious: true)], "written together: one word")
    }

    func testBlockElementsSeparateWords() {
        XCTAssertEqual(SpeechPlan(ssml: "<speak><p>One</p><p>two<break time=\"1s\"/>three</p></speak>").pieces,
                       [Piece(text: "One two three")])
    }

    func testCommentsProcessingInstructionsAndCDATA() {
        XCTAssertEqual(SpeechPlan(ssml: "<?xml version=\"1.0\"?><speak><!-- note -->a <![CDATA[<b> & c]]></speak>").pieces,
                       [Piece(text: "a <b> & c")])
    }

    func testCarelessTextStaysLiteral() {
        XCTAssertEqual(SpeechPlan(ssml: "<speak>1 < 2 & 3 > 2 &unknown; AT&T</speak>").pieces,
                       [Piece(text: "1 < 2 & 3 > 2 &unknown; AT&T")])
    }

    func testMalformedSSMLFallsBackToPlainText() {
        for text in ["<speak>unclosed <s>sentence</speak>", "<speak>bad <mark name=\"a\"", "<speak>mismatch</p></speak>",
                     "<speak>mark <mark/> without name</speak>", "<speak>attr <mark name=unquoted/></speak>"] {
            let plan = SpeechPlan(ssml: text)
            XCTAssertEqual(plan.pieces, [Piece(text: text)], text)
            XCTAssertEqual(plan.allMarks, [], text)
        }
    }

    func testNothingToSay() {
        XCTAssertEqual(SpeechPlan(ssml: "<speak>  </speak>"), SpeechPlan(pieces: []))
        XCTAssertEqual(SpeechPlan(ssml: "<speak><mark name=\"only\"/></speak>"), SpeechPlan(pieces: [], trailingMarks: ["only"]))
    }
}

/// One SPEAK as one job: the pieces joined, each mark at its offset in Unicode scalars.
final class SpeechInputTests: XCTestCase {
    func testMarksSitAtTheStartOfTheTextTheyPrecede() {
        let input = SpeechInput(plan: SpeechPlan(ssml: "<speak><mark name=\"a\"/>Grüße <mark name=\"b\"/>👍🏽 now.<mark name=\"__spd_0\"/> Next.<mark name=\"end\"/></speak>"))
        XCTAssertEqual(input.input, "Grüße 👍🏽 now. Next.")
        // "👍🏽" is one character but two scalars: offsets count scalars.
        XCTAssertEqual(input.marks, [.init("a", at: 0), .init("b", at: 6), .init("__spd_0", at: 14), .init("end", at: 19)])
        XCTAssertEqual(input.input.unicodeScalars.count, 19)
    }

    func testAMarkInsideAWordDoesNotSplitIt() {
        let input = SpeechInput(plan: SpeechPlan(ssml: "<speak>some<mark name=\"m\"/>thing <mark name=\"n\"/>else</speak>"))
        XCTAssertEqual(input.input, "something else")
        XCTAssertEqual(input.marks, [.init("m", at: 4), .init("n", at: 10)])
    }

    func testTextThatTransformsToNothingMovesItsMarksOn() {
        let plan = SpeechPlan(ssml: "<speak>One <mark name=\"a\"/># <mark name=\"b\"/>two</speak>")
        let input = SpeechInput(plan: plan) { $0 == "#" ? " " : $0 }
        XCTAssertEqual(input.input, "One two")
        XCTAssertEqual(input.marks, [.init("a", at: 4), .init("b", at: 4)])
        XCTAssertEqual(SpeechInput(plan: SpeechPlan(ssml: "<speak><mark name=\"x\"/></speak>")), SpeechInput(input: "", marks: [.init("x", at: 0)]))
    }
}
