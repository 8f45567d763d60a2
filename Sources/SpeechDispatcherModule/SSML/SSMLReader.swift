/// Reads the SSML speech-dispatcher sends (`<speak>`, `<mark name="…"/>`, and whatever a client put in SSML mode)
/// into plain text and mark positions. The upstream speaks plain text, so every other element is dropped and its
/// text kept; entities are decoded. Block elements (`p`, `s`, `break`, `speak`) become a space so words on either
/// side do not run together.
///
/// Lenient where a screen reader's text is merely careless (a `<` not starting a tag, an `&` not starting an
/// entity stay literal); strict where the structure is broken (an unterminated tag, a mismatched closing tag, an
/// element left open, a mark without a name). Then `read` returns nil and the caller falls back to plain text.
///
/// Threading: stateless; call from any thread.
public enum SSMLReader {
    /// A run of text or a mark, in document order.
    public enum Item: Sendable, Equatable {
        case text(String)
        case mark(String)
    }

    private static let blockElements: Set<String> = ["speak", "p", "s", "paragraph", "sentence", "break"]

    public static func read(_ ssml: String) -> [Item]? {
        var items: [Item] = []
        var text = ""
        var openElements: [String] = []
        let scalars = Array(ssml.unicodeScalars)
        var index = 0

        func flushText() {
            if !text.isEmpty { items.append(.text(text)) }
            text = ""
        }

        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "<" {
                if starts(scalars, at: index, with: "<!--") {
                    guard let end = find(scalars, "-->", from: index + 4) else { return nil }
                    index = end + 3
                    continue
                }
                if starts(scalars, at: index, with: "<![CDATA[") {
                    guard let end = find(scalars, "]]>", from: index + 9) else { return nil }
                    text.unicodeScalars.append(contentsOf: scalars[(index + 9)..<end])
                    index = end + 3
                    continue
                }
                if starts(scalars, at: index, with: "<?") || starts(scalars, at: index, with: "<!") {
                    guard let end = find(scalars, ">", from: index + 2) else { return nil }
                    index = end + 1
                    continue
                }
                let next = index + 1 < scalars.count ? scalars[index + 1] : " "
                guard next == "/" || next.properties.isAlphabetic || next == "_" else {
                    text.unicodeScalars.append(scalar)   // "a < b": a literal less-than sign
                    index += 1
                    continue
                }
                guard let tagEnd = endOfTag(scalars, from: index + 1),
                      let tag = Tag(String(String.UnicodeScalarView(scalars[(index + 1)..<tagEnd]))) else { return nil }
                index = tagEnd + 1
                if tag.isClosing {
                    guard openElements.last == tag.name else { return nil }
                    openElements.removeLast()
                } else if !tag.isSelfClosing {
                    openElements.append(tag.name)
                }
                if tag.name == "mark" && !tag.isClosing {
                    guard let name = tag.attributes["name"], !name.isEmpty else { return nil }
                    flushText()
                    items.append(.mark(name))
                }
                if blockElements.contains(tag.name), let last = text.unicodeScalars.last, !last.properties.isWhitespace {
                    text.append(" ")
                }
            } else if scalar == "&", let (decoded, length) = entity(scalars, at: index) {
                text.unicodeScalars.append(contentsOf: decoded.unicodeScalars)
                index += length
            } else {
                text.unicodeScalars.append(scalar)
                index += 1
            }
        }
        guard openElements.isEmpty else { return nil }
        flushText()
        return items
    }

    /// Decodes `&name;` or `&#N;` / `&#xH;` at `index`; nil (a literal `&`) if it is none of those.
    static func entity(_ scalars: [Unicode.Scalar], at index: Int) -> (String, Int)? {
        guard let semicolon = find(scalars, ";", from: index + 1), semicolon - index <= 10 else { return nil }
        let body = String(String.UnicodeScalarView(scalars[(index + 1)..<semicolon]))
        let length = semicolon - index + 1
        switch body {
        case "lt": return ("<", length)
        case "gt": return (">", length)
        case "amp": return ("&", length)
        case "quot": return ("\"", length)
        case "apos": return ("'", length)
        default:
            guard body.hasPrefix("#") else { return nil }
            let digits = body.dropFirst()
            let value = digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            guard let value, let scalar = Unicode.Scalar(value) else { return nil }
            return (String(Character(scalar)), length)
        }
    }

    /// Index of the `>` closing a tag that starts after `<`, skipping `>` inside quoted attribute values.
    private static func endOfTag(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var quote: Unicode.Scalar?
        var index = start
        while index < scalars.count {
            let scalar = scalars[index]
            if let open = quote {
                if scalar == open { quote = nil }
            } else if scalar == "\"" || scalar == "'" {
                quote = scalar
            } else if scalar == ">" {
                return index
            } else if scalar == "<" {
                return nil
            }
            index += 1
        }
        return nil
    }

    private static func starts(_ scalars: [Unicode.Scalar], at index: Int, with prefix: String) -> Bool {
        let prefixScalars = Array(prefix.unicodeScalars)
        guard index + prefixScalars.count <= scalars.count else { return false }
        return scalars[index..<(index + prefixScalars.count)].elementsEqual(prefixScalars)
    }

    private static func find(_ scalars: [Unicode.Scalar], _ needle: String, from start: Int) -> Int? {
        let needleScalars = Array(needle.unicodeScalars)
        var index = start
        while index + needleScalars.count <= scalars.count {
            if scalars[index..<(index + needleScalars.count)].elementsEqual(needleScalars) { return index }
            index += 1
        }
        return nil
    }
}

/// One tag's inside (between `<` and `>`): its name, whether it closes or closes itself, its attributes.
struct Tag {
    var name: String
    var isClosing: Bool
    var isSelfClosing: Bool
    var attributes: [String: String] = [:]

    init?(_ inside: String) {
        // Scalar by scalar: as Characters, a quote followed by a combining mark (`name="\u{670}…"`) is one grapheme
        // that equals no quote, and a well-formed mark was refused (found by scripts/fuzz ssml).
        var body = Substring(inside).unicodeScalars[...]
        isClosing = body.first == "/"
        if isClosing { body = body.dropFirst() }
        isSelfClosing = body.last == "/"
        if isSelfClosing { body = body.dropLast() }
        let nameEnd = body.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) ?? body.endIndex
        // Namespaced names (`ssml:mark`) count by their local part.
        let qualified = body[..<nameEnd]
        name = Self.text(qualified.split(separator: ":").last ?? qualified).lowercased()
        guard !name.isEmpty else { return nil }
        var rest = body[nameEnd...]
        while let equals = rest.firstIndex(of: "=") {
            let key = Self.text(rest[..<equals]).trimmingSpaces.replacingNewlines.lowercased()
            var valueStart = rest.index(after: equals)
            while valueStart < rest.endIndex, rest[valueStart] == " " { valueStart = rest.index(after: valueStart) }
            guard valueStart < rest.endIndex, rest[valueStart] == "\"" || rest[valueStart] == "'" else { return nil }
            let quote = rest[valueStart]
            let contentStart = rest.index(after: valueStart)
            guard let close = rest[contentStart...].firstIndex(of: quote) else { return nil }
            attributes[key] = SSMLReader.decodeEntities(Self.text(rest[contentStart..<close]))
            rest = rest[rest.index(after: close)...]
        }
    }

    private static func text(_ scalars: Substring.UnicodeScalarView.SubSequence) -> String {
        String(String.UnicodeScalarView(scalars))
    }
}

extension SSMLReader {
    /// Entities decoded in an attribute value (`name="a&amp;b"`).
    static func decodeEntities(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "&", let (decoded, length) = entity(scalars, at: index) {
                result.append(contentsOf: decoded.unicodeScalars)
                index += length
            } else {
                result.append(scalars[index])
                index += 1
            }
        }
        return String(result)
    }
}

extension StringProtocol {
    var replacingNewlines: String { String(map { $0 == "\n" || $0 == "\r" ? " " : $0 }).trimmingSpaces }
}
