import XCTest
@testable import SpeakdSynthesis

/// Error bodies the upstream-error fuzzer (scripts/fuzz upstream-error) found mishandled, kept as regression tests.
final class UpstreamErrorBodyFuzzFindingsTests: XCTestCase {
    /// `{"detail":""}` gave an empty message: the job failed with "upstream refused: " and nothing to go on.
    /// A shape whose message is empty or blank now shows the body itself.
    func testEmptyMessagesShowTheBody() {
        for body in [#"{"detail":""}"#, #"{"error":{"message":"  "}}"#, #"{"message":""}"#, #"{"error":""}"#] {
            let parsed = UpstreamErrorBody.parse(Array(body.utf8))
            XCTAssertEqual(parsed.message, body, body)
            XCTAssertNil(parsed.code, body)
        }
        XCTAssertEqual(UpstreamErrorBody.parse(Array(#"{"error":{"message":"Quota","code":"insufficient_quota"}}"#.utf8)),
                       UpstreamErrorBody.Parsed(message: "Quota", code: "insufficient_quota"))
    }
}
