import SpeakdText
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Extracts the human message from an upstream's error body. Servers disagree on the shape:
/// OpenAI `{"error":{"message","type","code"}}`, Kokoro-FastAPI `{"detail":{"error","message","type"}}`,
/// Speaches/FastAPI `{"detail":"…"}` or `{"detail":[{"loc":…,"msg":…}]}`. Anything else is shown as text.
///
/// Threading: stateless.
public enum UpstreamErrorBody {
    public struct Parsed: Sendable, Equatable {
        public var message: String
        /// OpenAI's `code` or `type` (`invalid_api_key`, `insufficient_quota`, …) when present.
        public var code: String?
    }

    public static func parse(_ body: [UInt8]) -> Parsed {
        // A shape with an empty message (`{"detail":""}`) says nothing: the body is shown as text instead
        // (found by scripts/fuzz upstream-error; the log said "upstream refused: " and nothing more).
        if let shape = try? JSONDecoder().decode(Shape.self, from: Data(body)), let parsed = parsed(shape),
           !parsed.message.trimmedForDisplay.isEmpty {
            return parsed
        }
        let text = String(decoding: body, as: UTF8.self).trimmedForDisplay
        return Parsed(message: text.isEmpty ? "(empty body)" : String(text.prefix(300)), code: nil)
    }

    private static func parsed(_ shape: Shape) -> Parsed? {
        switch (shape.error, shape.detail) {
        case (.object(let message, let code, let type)?, _) where message != nil:
            return Parsed(message: message!, code: code ?? type)
        case (.text(let message)?, _):
            return Parsed(message: message, code: nil)
        case (_, .object(let message, let code, let type)?) where message != nil || code != nil:
            return Parsed(message: message ?? code!, code: type ?? code)
        case (_, .text(let message)?):
            return Parsed(message: message, code: nil)
        case (_, .list(let items)?) where !items.isEmpty:
            return Parsed(message: items.joined(separator: "; "), code: nil)
        default:
            return shape.message.map { Parsed(message: $0, code: nil) }
        }
    }

    private struct Shape: Decodable {
        var error: Member?
        var detail: Member?
        var message: String?
    }

    /// `{"message","code"|"error","type"}`, a string, or FastAPI's list of `{"loc","msg"}`.
    private enum Member: Decodable {
        case object(message: String?, code: String?, type: String?)
        case text(String)
        case list([String])

        private struct Fields: Decodable {
            var message: String?
            var code: String?
            var error: String?
            var type: String?
        }

        private struct ValidationItem: Decodable {
            var loc: [LocationPart]?
            var msg: String
        }

        private enum LocationPart: Decodable, CustomStringConvertible {
            case name(String), index(Int)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let index = try? container.decode(Int.self) { self = .index(index) } else { self = .name(try container.decode(String.self)) }
            }
            var description: String { switch self { case .name(let name): name; case .index(let index): "\(index)" } }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if let items = try? container.decode([ValidationItem].self) {
                self = .list(items.map { item in
                    guard let loc = item.loc, !loc.isEmpty else { return item.msg }
                    return loc.map(\.description).joined(separator: ".") + ": " + item.msg
                })
            } else {
                let fields = try container.decode(Fields.self)
                self = .object(message: fields.message, code: fields.code ?? fields.error, type: fields.type)
            }
        }
    }
}
