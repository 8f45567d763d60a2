import Foundation
@testable import SpeakdHTTP
@testable import SpeakdMQTT
import SpeakdProtocol
import XCTest

/// Inputs the http-body and mqtt-payload fuzz targets found (Fuzz/README.md); each input also stays in the seed
/// corpus (Fuzz/corpus/http-body/invalid-utf8-in-string).
final class FrontDoorPayloadFuzzFindingsTests: XCTestCase {
    /// Bytes that are not UTF-8 inside a JSON string: JSONDecoder read them as U+FFFD and the door accepted the job
    /// the socket refuses ("the request is not valid UTF-8"). Both doors now refuse them, with a message.
    func testBadUTF8InsideAJSONStringIsRefusedAsOnTheSocket() throws {
        let body: [UInt8] = Array(#"{"input":"a"#.utf8) + [0x80, 0x80, 0x80, 0x80] + Array(#"","priority":"text"}"#.utf8)
        guard case .failure(let socket) = RequestParser.parse(Array(#"{"op":"speak","#.utf8) + body.dropFirst()) else {
            return XCTFail("the socket accepts bad UTF-8")
        }
        XCTAssertTrue(socket.error.message.contains("UTF-8"), socket.error.message)
        XCTAssertEqual(HTTPSpeakBody.fields(body, contentType: "application/json"),
                       .failure(.init(code: "invalid_json", message: "the body is not valid UTF-8")))
        XCTAssertEqual(HTTPSpeakBody.fields([0x41, 0xFF], contentType: "text/plain"),
                       .failure(.init(code: "invalid_text", message: "the text/plain body is not valid UTF-8")))
        guard case .failure(let mqtt) = MQTTPayload.speakFields(body) else { return XCTFail("MQTT accepts bad UTF-8") }
        XCTAssertTrue(mqtt.message.contains("UTF-8"), mqtt.message)
        guard case .failure = MQTTPayload.speakFields([0x48, 0x69, 0xC3]) else { return XCTFail("MQTT text with bad UTF-8") }
        XCTAssertEqual(try MQTTPayload.speakFields(Array("Hi ü".utf8)).get(), ["input": .string("Hi ü")])
    }

    /// Not a bug, but worth knowing (http-body's door-equals-socket property tripped on it): JSONDecoder reads text
    /// with NUL bytes as UTF-16 or UTF-32, so `{\0}\0` is the empty object, at the doors and on the socket alike.
    func testNULsMakeJSONReadAsUTF16AtEveryDoor() throws {
        let utf16: [UInt8] = [0x7B, 0x00, 0x7D, 0x00]
        XCTAssertEqual(try HTTPSpeakBody.fields(utf16, contentType: "application/json").get(), [:])
        XCTAssertEqual(try MQTTPayload.speakFields(utf16).get(), [:])
        guard case .failure(let socket) = RequestParser.parse(utf16) else { return XCTFail("an empty object has no op") }
        XCTAssertEqual(socket.error.field, "op", socket.error.message)
    }

    /// Media types ignore case and may carry parameters (RFC 9110): `Text/Plain;charset=UTF-8` was read as JSON and
    /// refused (found while writing http-body's case property).
    func testTextPlainIsRecognisedInAnyCase() throws {
        for contentType in ["text/plain", "Text/Plain;charset=UTF-8", " TEXT/PLAIN ; charset=utf-8"] {
            XCTAssertEqual(try HTTPSpeakBody.fields(Array("Doorbell.".utf8), contentType: contentType).get(),
                           ["input": .string("Doorbell.")], contentType)
        }
        for contentType in ["text/plainx", "text/html", "application/json"] {
            guard case .failure = HTTPSpeakBody.fields(Array("Doorbell.".utf8), contentType: contentType) else {
                return XCTFail("\(contentType): not JSON, so refused")
            }
        }
    }
}
