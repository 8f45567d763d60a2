import XCTest
@testable import SpeakdSynthesis

final class UpstreamErrorBodyTests: XCTestCase {
    private func parse(_ text: String) -> UpstreamErrorBody.Parsed { UpstreamErrorBody.parse(Array(text.utf8)) }

    func testKnownShapes() {
        XCTAssertEqual(parse(#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#),
                       .init(message: "Incorrect API key provided", code: "invalid_api_key"))
        XCTAssertEqual(parse(#"{"detail":{"error":"validation_error","message":"Voice 'x' not found","type":"invalid_request_error"}}"#),
                       .init(message: "Voice 'x' not found", code: "invalid_request_error"))
        XCTAssertEqual(parse(#"{"detail":"Model not found"}"#).message, "Model not found")
        XCTAssertEqual(parse(#"{"detail":[{"loc":["body","speed"],"msg":"too big","type":"x"}]}"#).message, "body.speed: too big")
        XCTAssertEqual(parse("  Bad Gateway\n").message, "Bad Gateway")
        XCTAssertEqual(parse("").message, "(empty body)")
    }
}
