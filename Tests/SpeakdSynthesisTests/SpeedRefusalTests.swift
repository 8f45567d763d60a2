import XCTest
@testable import SpeakdSynthesis

/// Speed bounds read from the error bodies real servers send.
final class SpeedRefusalTests: XCTestCase {
    private func parse(_ body: String) -> SpeedRefusal? { SpeedRefusal.parse(Array(body.utf8)) }

    func testKokoroFastAPIPydanticBodies() {
        // Verbatim from a real Kokoro-FastAPI server (docs in ../shared/notes/real-upstream-kokoro.md).
        XCTAssertEqual(parse(#"{"detail":[{"type":"less_than_equal","loc":["body","speed"],"msg":"Input should be less than or equal to 2","input":3,"ctx":{"le":2.0}}]}"#),
                       SpeedRefusal(maximum: 2))
        XCTAssertEqual(parse(#"{"detail":[{"type":"greater_than_equal","loc":["body","speed"],"msg":"Input should be greater than or equal to 1","input":0.5,"ctx":{"ge":1.0}}]}"#),
                       SpeedRefusal(minimum: 1))
        // Exclusive bounds come inside by a hundredth.
        XCTAssertEqual(parse(#"{"detail":[{"type":"less_than","loc":["body","speed"],"msg":"Input should be less than 2","input":3,"ctx":{"lt":2}}]}"#),
                       SpeedRefusal(maximum: 1.99))
        XCTAssertEqual(parse(#"{"detail":[{"type":"greater_than","loc":["body","speed"],"msg":"Input should be greater than 0","input":0,"ctx":{"gt":0.5}}]}"#),
                       SpeedRefusal(minimum: 0.51))
        // Without ctx the message still says it.
        XCTAssertEqual(parse(#"{"detail":[{"loc":["body","speed"],"msg":"Input should be less than or equal to 1.5"}]}"#),
                       SpeedRefusal(maximum: 1.5))
        // A validation error about another field is not about speed.
        XCTAssertNil(parse(#"{"detail":[{"type":"missing","loc":["body","voice"],"msg":"Field required","input":{}}]}"#))
    }

    func testOpenAIBodies() {
        XCTAssertEqual(parse(#"{"error":{"message":"Invalid 'speed': decimal above maximum value. Expected a value <= 4, but got 9 instead.","type":"invalid_request_error","param":"speed","code":"decimal_above_max_value"}}"#),
                       SpeedRefusal(maximum: 4))
        XCTAssertEqual(parse(#"{"error":{"message":"Invalid 'speed': decimal below minimum value. Expected a value >= 0.25, but got 0.1 instead.","type":"invalid_request_error","param":"speed","code":"decimal_below_min_value"}}"#),
                       SpeedRefusal(minimum: 0.25))
        // param speed with no number: the server takes no speed at all.
        XCTAssertEqual(parse(#"{"error":{"message":"speed is not supported by this model","type":"invalid_request_error","param":"speed","code":null}}"#),
                       SpeedRefusal())
        XCTAssertNil(parse(#"{"error":{"message":"Incorrect API key provided: sk-…","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#))
    }

    func testSpeachesAndPlainMessages() {
        XCTAssertEqual(parse(#"{"detail":"Speed 3.0 is not supported; choose a speed between 0.5 and 2.0."}"#),
                       SpeedRefusal(minimum: 0.5, maximum: 2))
        XCTAssertEqual(parse(#"{"detail":"speed must be in range 1.0-2.0"}"#), SpeedRefusal(minimum: 1, maximum: 2))
        XCTAssertEqual(parse(#"{"detail":{"error":"validation_error","message":"speed must be at most 1.5, got 3","type":"invalid_request_error"}}"#),
                       SpeedRefusal(maximum: 1.5))
        XCTAssertEqual(parse("speed must be <= 2.0"), SpeedRefusal(maximum: 2))
        XCTAssertEqual(parse("Invalid speed: must be at least 0.8 and at most 1.6"), SpeedRefusal(minimum: 0.8, maximum: 1.6))
        XCTAssertNil(parse(#"{"detail":"Voice 'nope' is not available"}"#), "Kokoro's unknown voice is not about speed")
        XCTAssertNil(parse("Internal Server Error"))
        XCTAssertNil(parse(#"{"detail":"at most 3 requests per second"}"#), "a bound on something else")
    }
}
