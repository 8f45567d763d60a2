/// A parsed TOML document: the subset a daemon's configuration needs, with the line of every value kept for error
/// messages. Supported: comments, `[table]` and `[dotted.table]` headers, `key = value` with bare or quoted keys
/// (dotted keys too), basic strings with escapes (`\" \\ \n \t \uXXXX`), literal strings, integers (with `_`),
/// floats, booleans, and single-line arrays of those. Not supported (refused with a message, never misread): multi-line
/// strings, inline tables, arrays of tables, dates.
///
/// Why not a TOML library: the one available here (TOMLKit) pulls a test-only dependency this build cannot fetch and
/// full Foundation into a daemon that avoids it; the subset above is all speakd's file uses.
///
/// Threading: a value type; Sendable.
public struct TOMLDocument: Sendable {
    public indirect enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
        case array([Value])
        case table([String: Entry])

        var typeName: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .float: "a number"
            case .bool: "a boolean"
            case .array: "an array"
            case .table: "a table"
            }
        }
    }

    /// A value and the line it was defined on (1-based).
    public struct Entry: Sendable, Equatable {
        public var value: Value
        public var line: Int
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public private(set) var root: [String: Entry] = [:]

    public init(parsing text: String) throws(ParseError) {
        var currentTable: [String] = []
        var definedTables: Set<[String]> = []
        // Split by scalars: as Characters, "\r\n" is one grapheme that never equals "\n" (a CRLF file was one line).
        for (index, rawLine) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var scanner = Scanner(Array(rawLine), line: line)
            scanner.skipWhitespace()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                if scanner.peek == "[" { throw ParseError(line: line, reason: "arrays of tables ([[…]]) are not supported") }
                let path = try scanner.keyPath()
                scanner.skipWhitespace()
                guard scanner.consume("]") else { throw ParseError(line: line, reason: "expected ] to close the table header") }
                try scanner.expectEndOfLine()
                guard definedTables.insert(path).inserted else {
                    throw ParseError(line: line, reason: "table [\(path.joined(separator: "."))] is defined twice")
                }
                try ensureTable(at: path, line: line)
                currentTable = path
                continue
            }
            let key = try scanner.keyPath()
            scanner.skipWhitespace()
            guard scanner.consume("=") else { throw ParseError(line: line, reason: "expected = after the key \"\(key.joined(separator: "."))\"") }
            scanner.skipWhitespace()
            let value = try scanner.value()
            try scanner.expectEndOfLine()
            try set(Entry(value: value, line: line), at: currentTable + key, line: line)
        }
    }

    private mutating func ensureTable(at path: [String], line: Int) throws(ParseError) {
        var table = root
        try Self.insertTable(path[...], into: &table, line: line)
        root = table
    }

    private static func insertTable(_ path: ArraySlice<String>, into table: inout [String: Entry], line: Int) throws(ParseError) {
        guard let first = path.first else { return }
        var child: [String: Entry] = [:]
        if let existing = table[first] {
            guard case .table(let existingTable) = existing.value else {
                throw ParseError(line: line, reason: "\"\(first)\" is already a value (line \(existing.line)), not a table")
            }
            child = existingTable
        }
        try insertTable(path.dropFirst(), into: &child, line: line)
        table[first] = Entry(value: .table(child), line: table[first]?.line ?? line)
    }

    private mutating func set(_ entry: Entry, at path: [String], line: Int) throws(ParseError) {
        var table = root
        try Self.set(entry, path: path[...], in: &table)
        root = table
    }

    private static func set(_ entry: Entry, path: ArraySlice<String>, in table: inout [String: Entry]) throws(ParseError) {
        let key = path.first!
        if path.count == 1 {
            if let existing = table[key] {
                throw ParseError(line: entry.line, reason: "\"\(key)\" is defined twice (first on line \(existing.line))")
            }
            table[key] = entry
            return
        }
        var child: [String: Entry] = [:]
        if let existing = table[key] {
            guard case .table(let existingTable) = existing.value else {
                throw ParseError(line: entry.line, reason: "\"\(key)\" is already a value (line \(existing.line)), not a table")
            }
            child = existingTable
        }
        try set(entry, path: path.dropFirst(), in: &child)
        table[key] = Entry(value: .table(child), line: table[key]?.line ?? entry.line)
    }
}

/// Reads one line.
private struct Scanner {
    let scalars: [Unicode.Scalar]
    let line: Int
    var position = 0

    init(_ scalars: [Unicode.Scalar], line: Int) {
        // A CRLF file's lines end in \r.
        self.scalars = scalars.last == "\r" ? Array(scalars.dropLast()) : scalars
        self.line = line
    }

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }
    var atEndOrComment: Bool { peek == nil || peek == "#" }
    mutating func advance() { position += 1 }

    mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
        guard peek == scalar else { return false }
        advance()
        return true
    }

    mutating func skipWhitespace() {
        while let scalar = peek, scalar == " " || scalar == "\t" { advance() }
    }

    func error(_ reason: String) -> TOMLDocument.ParseError { .init(line: line, reason: reason) }

    mutating func expectEndOfLine() throws(TOMLDocument.ParseError) {
        skipWhitespace()
        guard atEndOrComment else { throw error("unexpected text after the value: \(String(String.UnicodeScalarView(scalars[position...])))") }
    }

    mutating func keyPath() throws(TOMLDocument.ParseError) -> [String] {
        var parts: [String] = []
        repeat {
            skipWhitespace()
            parts.append(try key())
            skipWhitespace()
        } while consume(".")
        return parts
    }

    private mutating func key() throws(TOMLDocument.ParseError) -> String {
        if peek == "\"" { return try basicString() }
        if peek == "'" { return try literalString() }
        var key = String.UnicodeScalarView()
        while let scalar = peek, ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || scalar == "_" || scalar == "-" || ("0"..."9").contains(scalar) {
            key.append(scalar)
            advance()
        }
        guard !key.isEmpty else { throw error("expected a key") }
        return String(key)
    }

    mutating func value() throws(TOMLDocument.ParseError) -> TOMLDocument.Value {
        switch peek {
        case "\"":
            if scalars[position...].starts(with: ["\"", "\"", "\""]) { throw error("multi-line strings are not supported") }
            return .string(try basicString())
        case "'":
            if scalars[position...].starts(with: ["'", "'", "'"]) { throw error("multi-line strings are not supported") }
            return .string(try literalString())
        case "[":
            return try array()
        case "{":
            throw error("inline tables are not supported; use a [table] header")
        case nil:
            throw error("missing value after =")
        default:
            return try scalarValue()
        }
    }

    private mutating func array() throws(TOMLDocument.ParseError) -> TOMLDocument.Value {
        advance()
        var items: [TOMLDocument.Value] = []
        while true {
            skipWhitespace()
            if consume("]") { return .array(items) }
            if peek == nil || peek == "#" { throw error("arrays must be on one line; expected ]") }
            items.append(try value())
            skipWhitespace()
            if consume(",") { continue }
            guard consume("]") else { throw error("expected , or ] in the array") }
            return .array(items)
        }
    }

    private mutating func scalarValue() throws(TOMLDocument.ParseError) -> TOMLDocument.Value {
        var token = ""
        while let scalar = peek, scalar != " ", scalar != "\t", scalar != ",", scalar != "]", scalar != "#" {
            token.unicodeScalars.append(scalar)
            advance()
        }
        switch token {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf", "-inf", "nan", "+nan", "-nan": throw error("\(token) is not allowed here")
        default: break
        }
        let digits = token.replacingUnderscores
        if let integer = Int(digits) { return .integer(integer) }
        if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let float = Double(digits) {
            // Double("1e999") is infinity, which TOML spells inf and refuses here (found by scripts/fuzz toml).
            guard float.isFinite else { throw error("\(token) is out of range for a number") }
            return .float(float)
        }
        if token.contains("-") || token.contains(":") { throw error("dates and times are not supported: \(token)") }
        throw error("\(token.isEmpty ? "nothing" : token) is not a value (strings need quotes)")
    }

    private mutating func literalString() throws(TOMLDocument.ParseError) -> String {
        advance()
        var text = String.UnicodeScalarView()
        while let scalar = peek {
            advance()
            if scalar == "'" { return String(text) }
            text.append(scalar)
        }
        throw error("unterminated string: expected '")
    }

    private mutating func basicString() throws(TOMLDocument.ParseError) -> String {
        advance()
        var text = String.UnicodeScalarView()
        while let scalar = peek {
            advance()
            switch scalar {
            case "\"":
                return String(text)
            case "\\":
                guard let escaped = peek else { throw error("unterminated escape in string") }
                advance()
                switch escaped {
                case "\"": text.append("\"")
                case "\\": text.append("\\")
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                case "b": text.append("\u{8}")
                case "f": text.append("\u{C}")
                case "u", "U":
                    let length = escaped == "u" ? 4 : 8
                    guard position + length <= scalars.count,
                          let code = UInt32(String(String.UnicodeScalarView(scalars[position..<position + length])), radix: 16),
                          let decoded = Unicode.Scalar(code) else { throw error("invalid \\\(escaped) escape in string") }
                    text.append(decoded)
                    position += length
                default:
                    throw error("unknown escape \\\(escaped) in string")
                }
            default:
                text.append(scalar)
            }
        }
        throw error("unterminated string: expected \"")
    }
}

private extension String {
    /// TOML allows `1_000`; Swift's `Int(_:)` does not.
    var replacingUnderscores: String { String(unicodeScalars.filter { $0 != "_" }) }
}
