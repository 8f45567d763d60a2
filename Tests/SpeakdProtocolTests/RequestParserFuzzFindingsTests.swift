import XCTest
@testable import SpeakdProtocol

/// Request lines that crashed the parser (and so the daemon), kept as regression tests. The fuzz target
/// scripts/fuzz request-line keeps them in its corpus too.
final class RequestParserFuzzFindingsTests: XCTestCase {
    private func refusal(_ line: String) -> RequestError? {
        if case .failure(let error) = RequestParser.parse(Array(line.utf8)) { return error }
        return nil
    }

    /// `Int(1e300)` traps: a whole number beyond Int's range as the protocol version killed the daemon.
    func testHugeProtocolVersionIsRefused() {
        let error = refusal(#"{"id":3,"op":"status","v":1e300}"#)
        XCTAssertEqual(error?.error.code, .unsupportedVersion)
        XCTAssertEqual(error?.id, .number(3))
        XCTAssertTrue(error?.error.message.contains("1e+300") == true, "\(String(describing: error))")
        XCTAssertEqual(refusal(#"{"op":"status","v":-4e18}"#)?.error.code, .unsupportedVersion)
        XCTAssertEqual(refusal(#"{"op":"status","v":2}"#)?.error.message.contains("version 2 is"), true)
    }

    /// The same trap in the message for a mark far outside the input.
    func testMarkFarOutsideTheInputIsRefused() {
        for at in ["1e300", "-1e300", "9.3e18", "123456789012345678"] {
            let error = refusal(#"{"op":"speak","input":"x","marks":[{"name":"a","at":"# + at + "}]}")
            XCTAssertEqual(error?.error.field, "marks", at)
            XCTAssertTrue(error?.error.message.contains("outside the input") == true, "\(at): \(String(describing: error))")
        }
    }
}
