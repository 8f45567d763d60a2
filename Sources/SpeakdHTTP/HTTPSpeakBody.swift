import Foundation
import SpeakdProtocol

/// The body of `POST /v1/speak` turned into the socket's `speak` fields: a JSON object (its envelope keys dropped:
/// the door sets them), or, with a `text/plain` media type, the body as `input`; UTF-8 either way. The fields themselves are checked
/// by the socket's own `RequestParser` when the door hands them to the daemon, so every door validates alike.
///
/// Threading: stateless; call from any thread.
public enum HTTPSpeakBody {
    /// Why a body was refused: a stable code and a message for people.
    public struct Refusal: Error, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    /// The envelope members a client may not set through a door.
    static let envelopeKeys = ["op", "id", "v"]

    public static func fields(_ body: some Collection<UInt8>, contentType: String?) -> Result<[String: JSONValue], Refusal> {
        // As on the socket: JSONDecoder would read bad bytes inside a string as U+FFFD, text would turn them into
        // U+FFFD; either way the client meant something else, so it hears why instead.
        let plain = isPlainText(contentType)
        guard let text = String(validating: body, as: UTF8.self) else {
            return .failure(plain ? Refusal(code: "invalid_text", message: "the text/plain body is not valid UTF-8")
                                  : Refusal(code: "invalid_json", message: "the body is not valid UTF-8"))
        }
        if plain { return .success(["input": .string(text)]) }
        guard case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            return .failure(Refusal(code: "invalid_json", message: "the body must be a JSON object of speak fields (docs/protocol.md), or text/plain"))
        }
        for key in envelopeKeys { fields.removeValue(forKey: key) }
        return .success(fields)
    }

    /// Whether the media type (before any `;` parameters) is text/plain; media types ignore case (RFC 9110 §8.3.1).
    static func isPlainText(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "text/plain"
    }
}
