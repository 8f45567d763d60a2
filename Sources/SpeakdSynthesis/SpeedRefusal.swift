#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What an upstream's 4xx says about the `speed` it accepts, read from the error body: FastAPI/pydantic
/// `{"detail":[{"loc":["body","speed"],"ctx":{"le":2.0},…}]}` (Kokoro), OpenAI `{"error":{"param":"speed",
/// "message":"… Expected a value <= 4 …"}}`, or a plain message that mentions speed and its bounds (Speaches
/// `{"detail":"…"}`). A refusal that names speed without a number means the server takes no speed but its default.
///
/// Threading: a value type; Sendable.
public struct SpeedRefusal: Sendable, Equatable {
    /// The lowest speed accepted, when the body says.
    public var minimum: Double?
    /// The highest speed accepted, when the body says.
    public var maximum: Double?

    public init(minimum: Double? = nil, maximum: Double? = nil) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// Exclusive bounds (`lt`, `gt`, "less than") become inclusive ones this much inside.
    static let exclusiveMargin = 0.01

    /// The refusal in `body`, or nil when the body is not about speed.
    public static func parse(_ body: [UInt8]) -> SpeedRefusal? {
        if let shape = try? JSONDecoder().decode(Shape.self, from: Data(body)) {
            if case .list(let items)? = shape.detail {
                for item in items where item.loc?.contains(where: { $0.lowercased() == "speed" }) == true {
                    if let refusal = item.refusal { return refusal }
                    return fromText(item.msg ?? "", mentionRequired: false) ?? SpeedRefusal()
                }
            }
            if let error = shape.error, error.param?.lowercased() == "speed" {
                return fromText(error.message ?? "", mentionRequired: false) ?? SpeedRefusal()
            }
            for message in [shape.error?.message, shape.detail?.text, shape.detail?.message, shape.message].compactMap({ $0 }) {
                if let refusal = fromText(message, mentionRequired: true) { return refusal }
            }
            return nil
        }
        return fromText(String(decoding: body.prefix(4_096), as: UTF8.self), mentionRequired: true)
    }

    /// Bounds stated in words: "between 1 and 2", "<= 2", "less than or equal to 2", "at least 1", "maximum 4".
    /// Numbers after "got", "input" or "received" are what was sent, not a bound.
    static func fromText(_ text: String, mentionRequired: Bool) -> SpeedRefusal? {
        let lowered = text.lowercased()
        if mentionRequired, !lowered.contains("speed") { return nil }
        let tokens = tokenize(lowered)
        var refusal = SpeedRefusal()
        var found = false
        var rangeOpenedAt: Int?
        for (index, token) in tokens.enumerated() {
            guard case .number(let value) = token else { continue }
            let before = tokens[max(0, index - 6)..<index].compactMap { if case .word(let word) = $0 { word } else { nil } }
            if before.suffix(2).contains(where: { ["got", "input", "received", "was", "given"].contains($0) }) { continue }
            if let opened = rangeOpenedAt, index - opened <= 2 {
                // "between 1 and 2", "range 1.0-2.0", "from 1 to 2": the second number closes the range.
                refusal.maximum = value
                rangeOpenedAt = nil
                found = true
                continue
            }
            if before.suffix(3).contains(where: { ["between", "range", "from"].contains($0) }) {
                refusal.minimum = value
                rangeOpenedAt = index
                found = true
                continue
            }
            // The comparison nearest the number decides: "below minimum value. Expected a value >= 0.25" is a minimum.
            guard let keyword = before.last(where: { maximumWords.contains($0) || minimumWords.contains($0) }) else { continue }
            let inclusive = before.contains("equal") || keyword.hasSuffix("=")
            let exclusive = keyword == "<" || keyword == ">" || (["less", "greater"].contains(keyword) && !inclusive)
            if maximumWords.contains(keyword) {
                refusal.maximum = exclusive ? value - exclusiveMargin : value
            } else {
                refusal.minimum = exclusive ? value + exclusiveMargin : value
            }
            found = true
        }
        if found { return refusal }
        return mentionRequired ? nil : SpeedRefusal()
    }

    private static let maximumWords: Set<String> = ["<", "<=", "most", "maximum", "max", "less", "exceed", "above", "up"]
    private static let minimumWords: Set<String> = [">", ">=", "least", "minimum", "min", "greater", "below"]

    private enum Token: Equatable { case word(String), number(Double) }

    /// Words, numbers (a trailing full stop is punctuation) and the comparison signs <, <=, >, >=.
    private static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var current = ""
        func emit() {
            guard !current.isEmpty else { return }
            var text = current
            while text.hasSuffix(".") { text.removeLast() }
            if let number = Double(text), number.isFinite { tokens.append(.number(number)) } else if !text.isEmpty { tokens.append(.word(text)) }
            current = ""
        }
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "<" || scalar == ">" {
                emit()
                let sign = index + 1 < scalars.count && scalars[index + 1] == "=" ? "\(scalar)=" : "\(scalar)"
                tokens.append(.word(sign))
                index += sign.count
                continue
            }
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "_"
                || (scalar == "-" && current.isEmpty) {
                current.unicodeScalars.append(scalar)
            } else {
                emit()
            }
            index += 1
        }
        emit()
        return tokens
    }

    private struct Shape: Decodable {
        var error: OpenAIError?
        var detail: Detail?
        var message: String?
    }

    private struct OpenAIError: Decodable {
        var message: String?
        var param: String?
    }

    private struct ValidationItem: Decodable {
        var loc: [String]?
        var msg: String?
        var type: String?
        var ctx: [String: Double]?

        /// pydantic's machine-readable bounds: `ctx.le`/`ge` inclusive, `lt`/`gt` exclusive.
        var refusal: SpeedRefusal? {
            guard let ctx else { return nil }
            var refusal = SpeedRefusal()
            if let value = ctx["le"] { refusal.maximum = value } else if let value = ctx["lt"] { refusal.maximum = value - SpeedRefusal.exclusiveMargin }
            if let value = ctx["ge"] { refusal.minimum = value } else if let value = ctx["gt"] { refusal.minimum = value + SpeedRefusal.exclusiveMargin }
            return refusal.minimum == nil && refusal.maximum == nil ? nil : refusal
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            msg = try? container.decode(String.self, forKey: .msg)
            type = try? container.decode(String.self, forKey: .type)
            ctx = try? container.decode([String: LenientNumber].self, forKey: .ctx).compactMapValues(\.value)
            // loc mixes names and indexes: keep the names.
            loc = (try? container.decode([LenientString].self, forKey: .loc))?.map(\.text)
        }

        enum CodingKeys: String, CodingKey { case loc, msg, type, ctx }
    }

    private enum Detail: Decodable {
        case list([ValidationItem])
        case text(String)
        case object(message: String?)

        var text: String? { if case .text(let text) = self { text } else { nil } }
        var message: String? { if case .object(let message) = self { message } else { nil } }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .text(text); return }
            if let items = try? container.decode([ValidationItem].self) { self = .list(items); return }
            let fields = try container.decode([String: LenientString].self)
            self = .object(message: fields["message"]?.text ?? fields["error"]?.text)
        }
    }

    /// A JSON value read as text whatever its type (an index in `loc`, a number in a message object).
    private struct LenientString: Decodable {
        var text: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self.text = text } else if let number = try? container.decode(Double.self) {
                text = "\(number)"
            } else { text = "" }
        }
    }

    /// A number, or nothing for any other JSON value (pydantic's ctx also carries strings such as `pattern`).
    private struct LenientNumber: Decodable {
        var value: Double?
        init(from decoder: any Decoder) throws { value = try? decoder.singleValueContainer().decode(Double.self) }
    }
}
