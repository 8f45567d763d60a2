/// What CHAR and KEY messages say. The upstream reads text, and "." or "_" alone would be read as nothing, so
/// characters that are not letters or digits get their names, and key names (`shift_a`, `kp-enter`) become words.
///
/// Threading: stateless; call from any thread.
public enum SpokenNames {
    static let characterNames: [Character: String] = [
        " ": "space", "\t": "tab", "\n": "new line", "!": "exclamation mark", "\"": "double quote", "#": "hash",
        "$": "dollar", "%": "percent", "&": "ampersand", "'": "apostrophe", "(": "left paren", ")": "right paren",
        "*": "star", "+": "plus", ",": "comma", "-": "dash", ".": "dot", "/": "slash", ":": "colon",
        ";": "semicolon", "<": "less than", "=": "equals", ">": "greater than", "?": "question mark", "@": "at",
        "[": "left bracket", "\\": "backslash", "]": "right bracket", "^": "caret", "_": "underscore",
        "`": "grave", "{": "left brace", "|": "bar", "}": "right brace", "~": "tilde",
    ]

    /// Key names (SSIP's list) that are not already words.
    static let keyNames: [String: String] = [
        "double-quote": "double quote", "kp-enter": "keypad enter", "kp-*": "keypad star", "kp-+": "keypad plus",
        "kp--": "keypad minus", "kp-.": "keypad dot", "kp-/": "keypad slash", "num-lock": "num lock",
        "scroll-lock": "scroll lock", "prior": "page up", "next": "page down", "backspace": "backspace",
        "escape": "escape", "return": "return", "enter": "enter", "window": "windows key",
    ]

    static let modifiers: Set<String> = ["alt", "control", "hyper", "meta", "shift", "super"]

    /// A CHAR body: one character (SSIP also sends `space` spelled out).
    public static func character(_ body: String) -> String {
        if body.count == 1, let character = body.first { return characterNames[character] ?? body }
        return body == "space" ? "space" : body
    }

    /// A KEY body: modifiers joined by `_`, then the key (`control_alt_delete` → "control alt delete").
    public static func key(_ body: String) -> String {
        var words: [String] = []
        var rest = Substring(body)
        while let underscore = rest.firstIndex(of: "_"), underscore != rest.startIndex,
              modifiers.contains(String(rest[..<underscore])), rest.index(after: underscore) < rest.endIndex {
            words.append(String(rest[..<underscore]))
            rest = rest[rest.index(after: underscore)...]
        }
        words.append(keyWord(String(rest)))
        return words.joined(separator: " ")
    }

    static func keyWord(_ key: String) -> String {
        if key.count == 1, let character = key.first { return characterNames[character] ?? key }
        if let name = keyNames[key] { return name }
        if key.hasPrefix("kp-") { return "keypad " + key.dropFirst(3) }
        return String(key.map { $0 == "-" ? " " : $0 })
    }
}
