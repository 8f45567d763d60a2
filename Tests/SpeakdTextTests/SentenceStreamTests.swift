import XCTest
@testable import SpeakdText

final class SentenceStreamTests: XCTestCase {
    func testSentencesComeOutWhenTheNextOneBegins() {
        var stream = SentenceStream()
        XCTAssertEqual(stream.append("Hello there"), [])
        XCTAssertEqual(stream.append(". How are"), ["Hello there."])
        XCTAssertEqual(stream.append(" you? I am"), ["How are you?"])
        XCTAssertEqual(stream.finish(), ["I am"])
        XCTAssertEqual(stream.finish(), [])
    }

    func testEveryNewlineEndsWhatCameBefore() {
        var stream = SentenceStream()
        XCTAssertEqual(stream.append("disk full on /var\nbackup "), ["disk full on /var"])
        XCTAssertEqual(stream.append("done\n\n"), ["backup done"])
        XCTAssertEqual(stream.finish(), [])
    }

    func testAnAbbreviationWaitsForTheNextWord() {
        var stream = SentenceStream()
        XCTAssertEqual(stream.append("Call Dr. "), [])
        XCTAssertEqual(stream.append("Smith now. Then"), ["Call Dr. Smith now."])
        XCTAssertEqual(stream.append(" rest.\n"), ["Then rest."])
    }

    func testCharacterByCharacterGivesTheSameSentencesAsAllAtOnce() {
        let text = "First one. Second, with a clause! Third?\nA log line\nv2.0.1 is out. Done"
        var whole = SentenceStream()
        let expected = whole.append(text) + whole.finish()
        var trickle = SentenceStream()
        var got: [String] = []
        for character in text { got += trickle.append(String(character)) }
        got += trickle.finish()
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got, ["First one.", "Second, with a clause!", "Third?", "A log line", "v2.0.1 is out.", "Done"])
    }
}
