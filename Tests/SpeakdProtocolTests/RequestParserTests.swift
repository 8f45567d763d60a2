import XCTest
@testable import SpeakdProtocol

final class RequestParserTests: XCTestCase {
    private func parse(_ line: String) -> Result<Request, RequestError> {
        RequestParser.parse(Array(line.utf8))
    }

    private func expectError(_ line: String, code: ProtocolError.Code, field: String?, file: StaticString = #filePath, line number: UInt = #line) {
        switch parse(line) {
        case .success(let request):
            XCTFail("expected \(code) error, parsed \(request)", file: file, line: number)
        case .failure(let failure):
            XCTAssertEqual(failure.error.code, code, failure.error.message, file: file, line: number)
            XCTAssertEqual(failure.error.field, field, failure.error.message, file: file, line: number)
        }
    }

    func testSpeakWithAllFields() throws {
        let request = try parse(#"{"id":7,"v":1,"op":"speak","input":"Hello.","voice":"nova","model":"tts-1","instructions":"calm","speed":1.5}"#).get()
        XCTAssertEqual(request.id, .number(7))
        XCTAssertEqual(request.operation, .speak(SpeakParameters(input: "Hello.", voice: "nova", model: "tts-1", instructions: "calm", speed: 1.5)))
    }

    func testSimpleOperations() throws {
        XCTAssertEqual(try parse(#"{"op":"stop"}"#).get().operation, .stop)
        XCTAssertEqual(try parse(#"{"id":"a","op":"status"}"#).get().id, .string("a"))
        XCTAssertEqual(try parse(#"{"op":"ping"}"#).get().operation, .ping)
    }

    func testErrorsNameTheField() {
        expectError(#"{"op":"speak","input":"hi","speed":9}"#, code: .invalidField, field: "speed")
        expectError(#"{"op":"speak","input":"hi","speed":0.2}"#, code: .invalidField, field: "speed")
        expectError(#"{"op":"speak","input":"hi","speed":"fast"}"#, code: .invalidField, field: "speed")
        expectError(#"{"op":"speak","input":"hi","speed":true}"#, code: .invalidField, field: "speed")
        expectError(#"{"op":"speak"}"#, code: .invalidField, field: "input")
        expectError(#"{"op":"speak","input":"   "}"#, code: .invalidField, field: "input")
        expectError(#"{"op":"speak","input":42}"#, code: .invalidField, field: "input")
        expectError(#"{"op":"speak","input":"hi","voice":""}"#, code: .invalidField, field: "voice")
        expectError(#"{"op":"speak","input":"hi","sped":1}"#, code: .invalidField, field: "sped")
        expectError(#"{"op":"speak","input":"hi","instructions":"\#(String(repeating: "x", count: 4097))"}"#, code: .invalidField, field: "instructions")
        expectError(#"{"op":"dance"}"#, code: .unknownOperation, field: "op")
        expectError(#"{"input":"hi"}"#, code: .invalidField, field: "op")
        expectError(#"{"op":"ping","v":2}"#, code: .unsupportedVersion, field: "v")
        expectError(#"{"op":"ping","id":[1]}"#, code: .invalidField, field: "id")
        expectError(#"[1,2]"#, code: .invalidRequest, field: nil)
        expectError(#"{"op":"#, code: .invalidJSON, field: nil)
    }

    func testInstructionsAtTheLimitAreAccepted() throws {
        let text = String(repeating: "é", count: 4096)
        let request = try parse(#"{"op":"speak","input":"hi","instructions":"\#(text)"}"#).get()
        guard case .speak(let parameters) = request.operation else { return XCTFail("not a speak") }
        XCTAssertEqual(parameters.instructions?.unicodeScalars.count, 4096)
    }

    func testInvalidUTF8IsRejected() {
        let bytes: [UInt8] = Array(#"{"op":"speak","input":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        guard case .failure(let failure) = RequestParser.parse(bytes) else { return XCTFail("accepted invalid UTF-8") }
        XCTAssertEqual(failure.error.code, .invalidJSON)
    }

    func testIdSurvivesAFailure() {
        guard case .failure(let failure) = parse(#"{"id":"x1","op":"speak","input":"hi","speed":10}"#) else { return XCTFail() }
        XCTAssertEqual(failure.id, .string("x1"))
    }

    func testServerLinesRoundTrip() throws {
        let reply = Reply(id: .number(3), job: "12", engine: "espeak-ng")
        let line = WireCodec.encodeLine(reply)
        XCTAssertEqual(line.last, UInt8(ascii: "\n"))
        XCTAssertEqual(try WireCodec.decodeServerLine(line.dropLast()), .reply(reply))
        XCTAssertTrue(String(decoding: line, as: UTF8.self).contains(#""id":3,"#), "integer ids stay integers")
        let event = Event(event: .job, job: "12", state: .failed, time: 1.5, reason: "upstream said no")
        XCTAssertEqual(try WireCodec.decodeServerLine(WireCodec.encodeLine(event).dropLast()), .event(event))
    }
}
