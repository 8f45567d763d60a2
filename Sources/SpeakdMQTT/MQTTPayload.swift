import Foundation
import SpeakdProtocol

/// What a message on the MQTT door's topics asks for: on `…/say` a JSON object is the socket's `speak` fields (its
/// envelope keys dropped: the door sets them) and any other UTF-8 the text to speak; on `…/command` one of stop,
/// pause, resume or skip, in any case, with whitespace around. The speak fields are checked by the socket's own
/// `RequestParser` when the door hands them to the daemon.
///
/// Threading: stateless; call from any thread.
enum MQTTPayload {
    static let commands = ["stop", "pause", "resume", "skip"]

    /// The speak fields, or an error for a payload that is not UTF-8 (as on the socket: JSONDecoder would read bad
    /// bytes inside a string as U+FFFD, and so would text; the sender learns why on `…/error` instead).
    static func speakFields(_ payload: [UInt8]) -> Result<[String: JSONValue], ProtocolError> {
        guard let text = String(validating: payload, as: UTF8.self) else {
            return .failure(ProtocolError(.invalidRequest, "the payload is not valid UTF-8"))
        }
        if payload.first == UInt8(ascii: "{"),
           case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(payload)) {
            for key in ["op", "id", "v"] { fields.removeValue(forKey: key) }
            return .success(fields)
        }
        return .success(["input": .string(text)])
    }

    /// The operation a `…/command` payload names, or an error that quotes (the start of) what was sent.
    static func command(_ payload: [UInt8]) -> Result<String, ProtocolError> {
        let command = String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard commands.contains(command) else {
            return .failure(ProtocolError(.invalidRequest, "unknown command \"\(command.prefix(40))\": use stop, pause, resume or skip"))
        }
        return .success(command)
    }
}
