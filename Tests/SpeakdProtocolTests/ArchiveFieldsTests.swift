import XCTest
@testable import SpeakdProtocol

/// The speak request's `archive`, `save` and `play` fields.
final class ArchiveFieldsTests: XCTestCase {
    private func parameters(_ line: String) throws -> SpeakParameters {
        guard case .speak(let parameters) = try RequestParser.parse(Array(line.utf8)).get().operation else {
            XCTFail("\(line) did not parse as a speak request")
            throw CancellationError()
        }
        return parameters
    }

    func testFieldsParse() throws {
        let plain = try parameters(#"{"op":"speak","input":"Hi."}"#)
        XCTAssertNil(plain.archive)
        XCTAssertNil(plain.save)
        XCTAssertTrue(plain.play)
        let saved = try parameters(#"{"op":"speak","input":"Hi.","save":"flac","play":false,"archive":false}"#)
        XCTAssertEqual(saved.save, .flac)
        XCTAssertFalse(saved.play)
        XCTAssertEqual(saved.archive, false)
        XCTAssertFalse(try parameters(#"{"op":"speak","input":"Hi.","archive":true,"play":false}"#).play)
    }

    func testNonsenseIsRefusedNamingTheField() {
        for (line, field) in [(#"{"op":"speak","input":"Hi.","save":"aac"}"#, "save"),
                              (#"{"op":"speak","input":"Hi.","play":false}"#, "play"),
                              (#"{"op":"speak","input":"Hi.","archive":"yes"}"#, "archive")] {
            guard case .failure(let failure) = RequestParser.parse(Array(line.utf8)) else { XCTFail(line); continue }
            XCTAssertEqual(failure.error.field, field, failure.error.message)
        }
    }
}
