@testable import SpeechDispatcherModule
import XCTest

/// SSML the fuzzer (scripts/fuzz ssml) found mishandled, kept as regression tests.
final class SSMLFuzzFindingsTests: XCTestCase {
    /// A mark name starting with a combining mark: read as Characters, `"` + U+0670 was one grapheme that equals no
    /// quote, so the whole (well-formed) document was refused and spoken as plain text, tags and all.
    func testMarkNameStartingWithACombiningMarkIsRead() {
        let ssml = "<speak>One <mark name=\"\u{670}x\"/>two<mark name='\u{301}'/></speak>"
        XCTAssertEqual(SSMLReader.read(ssml), [.text("One "), .mark("\u{670}x"), .text("two"), .mark("\u{301}")])
    }

    /// A combining mark right after a tag's name or its closing slash stays part of what it follows.
    func testCombiningMarkAfterAnAttributeValueKeepsTheTagReadable() {
        XCTAssertEqual(SSMLReader.read("<speak><mark name=\"a\u{301}\"/>b</speak>"), [.mark("a\u{301}"), .text("b ")])
    }
}
