/// What CHAR and KEY messages say. The upstream reads text, and "." or "_" alone would be read as nothing, so
/// characters that are not letters or digits get their names (in the message's language, `SymbolTable`), and key
/// names (`shift_a`, `kp-enter`) become words.
///
/// Threading: stateless; call from any thread.
public enum SpokenNames {
    /// Key names (SSIP's list) that are not already words.
    static let keyNames: [String: String] = [
        "double-quote": "double quote", "kp-enter": "keypad enter", "kp-*": "keypad star", "kp-+": "keypad plus",
        "kp--": "keypad minus", "kp-.": "keypad dot", "kp-/": "keypad slash", "num-lock": "num lock",
        "scroll-lock": "scroll lock", "prior": "page up", "next": "page down", "backspace": "backspace",
        "escape": "escape", "return": "return", "enter": "enter", "window": "windows key",
    ]

    static let modifiers: Set<String> = ["alt", "control", "hyper", "meta", "shift", "super"]

    /// Every key name of SSIP's `KEY` command (its documentation's list).
    static let ssipKeys: [String] = ["space", "underscore", "double-quote", "alt", "control", "hyper", "meta", "shift",
        "super", "backspace", "break", "delete", "down", "end", "enter", "escape", "home", "insert", "kp-*", "kp-+",
        "kp--", "kp-.", "kp-/", "kp-enter", "left", "menu", "next", "num-lock", "pause", "print", "prior", "return",
        "right", "scroll-lock", "tab", "up", "window"]
        + (1...24).map { "f\($0)" } + (0...9).map { "kp-\($0)" }

    /// A CHAR body: one character (SSIP also sends `space` spelled out).
    public static func character(_ body: String, _ verbalizer: Verbalizer = Verbalizer()) -> String {
        if body.count == 1, let character = body.first { return verbalizer.character(character) }
        return body == "space" ? verbalizer.character(" ") : body
    }

    /// A KEY body: modifiers joined by `_`, then the key (`control_alt_delete` → "control alt delete").
    public static func key(_ body: String, _ verbalizer: Verbalizer = Verbalizer()) -> String {
        var words: [String] = []
        var rest = Substring(body)
        while let underscore = rest.firstIndex(of: "_"), underscore != rest.startIndex,
              modifiers.contains(String(rest[..<underscore])), rest.index(after: underscore) < rest.endIndex {
            words.append(String(rest[..<underscore]))
            rest = rest[rest.index(after: underscore)...]
        }
        words.append(keyWord(String(rest), verbalizer))
        return words.joined(separator: " ")
    }

    static func keyWord(_ key: String, _ verbalizer: Verbalizer) -> String {
        if key.count == 1, let character = key.first { return verbalizer.character(character) }
        if let name = keyNames[key] { return name }
        if key.hasPrefix("kp-") { return "keypad " + key.dropFirst(3) }
        return String(key.map { $0 == "-" ? " " : $0 })
    }

    /// What CHAR and KEY say most: the letters (capitals too when they are announced), digits, named characters
    /// and SSIP's key names, exactly as the module will send them, for warming the daemon's phrase cache.
    public static func commonPhrases(_ verbalizer: Verbalizer) -> [String] {
        var characters = Array("abcdefghijklmnopqrstuvwxyz0123456789 ") + SymbolTable.rules.keys.sorted()
        if verbalizer.capitals != .none { characters += Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ") }
        var seen: Set<String> = []
        return (characters.map { character(String($0), verbalizer) } + ssipKeys.map { key($0, verbalizer) })
            .filter { seen.insert($0).inserted }
    }
}
