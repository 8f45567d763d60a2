// libFuzzer target: the configuration file's TOML reader (TOMLDocument).
// Properties: never crashes; a document it accepts, written out again (every value under its full quoted key
// path), reads back to the same values; and line endings do not matter (the same text with CRLF reads the same).

@_cdecl("LLVMFuzzerTestOneInput")
public func tomlFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    checkTOML(String(decoding: FuzzInput(data, size).bytes, as: UTF8.self))
    return 0
}

func checkTOML(_ text: String) {
    guard let document = try? TOMLDocument(parsing: text) else { return }
    let values = tomlValues(document.root)
    let written = tomlWrite(document.root, path: [])
    do {
        let again = try TOMLDocument(parsing: written)
        fuzzCheck(tomlValues(again.root) == values, "written again, the document reads differently:\n\(written)")
    } catch {
        fuzzFail("an accepted document, written again, is refused (\(error)):\n\(written)")
    }
    if !text.unicodeScalars.contains("\r") {
        let crlf = String(String.UnicodeScalarView(text.unicodeScalars.flatMap { $0 == "\n" ? ["\r", "\n"] : [$0] }))
        switch Result(catching: { try TOMLDocument(parsing: crlf) }) {
        case .success(let document):
            fuzzCheck(tomlValues(document.root) == values, "with CRLF line ends the document reads differently")
        case .failure(let error):
            fuzzFail("with CRLF line ends the document is refused: \(error)")
        }
    }
}

/// The values without the line numbers (which writing changes).
indirect enum TOMLPlain: Equatable {
    case string(String), integer(Int), float(Double), bool(Bool), array([TOMLPlain]), table([String: TOMLPlain])
}

func tomlValues(_ table: [String: TOMLDocument.Entry]) -> [String: TOMLPlain] { table.mapValues { tomlPlain($0.value) } }

func tomlPlain(_ value: TOMLDocument.Value) -> TOMLPlain {
    switch value {
    case .string(let s): .string(s)
    case .integer(let i): .integer(i)
    case .float(let f): .float(f)
    case .bool(let b): .bool(b)
    case .array(let items): .array(items.map(tomlPlain))
    case .table(let table): .table(tomlValues(table))
    }
}

/// Every leaf as `"a"."b" = value` first, then a `["a"."b"]` header for each empty table.
func tomlWrite(_ table: [String: TOMLDocument.Entry], path: [String]) -> String {
    var leaves = "", headers = ""
    func walk(_ table: [String: TOMLDocument.Entry], _ path: [String]) {
        if table.isEmpty && !path.isEmpty { headers += "[" + path.map(tomlQuoted).joined(separator: ".") + "]\n" }
        for (key, entry) in table.sorted(by: { $0.key < $1.key }) {
            if case .table(let child) = entry.value {
                walk(child, path + [key])
            } else {
                leaves += (path + [key]).map(tomlQuoted).joined(separator: ".") + " = " + tomlLiteral(entry.value) + "\n"
            }
        }
    }
    walk(table, path)
    return leaves + headers
}

func tomlQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func tomlLiteral(_ value: TOMLDocument.Value) -> String {
    switch value {
    case .string(let s): return tomlQuoted(s)
    case .integer(let i): return String(i)
    case .float(let f):
        let text = "\(f)"
        return text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" || $0 == "n" || $0 == "i" }) ? text : text + ".0"
    case .bool(let b): return b ? "true" : "false"
    case .array(let items): return "[" + items.map(tomlLiteral).joined(separator: ", ") + "]"
    case .table: fuzzFail("a table inside an array cannot come from this reader")
    }
}
