/// Which punctuation characters are spoken at which punctuation level, and their names per language.
///
/// Levels and the keep-or-drop rules follow speech-dispatcher's own symbol tables (`locale/en/symbols.dic`, which
/// it took from NVDA), so a voice behind sd_speakd says what the server itself would have said with
/// `SymbolsPreproc`: at `some` "@", "#", "%", "&", "*", "/", "+", "=", "<", ">" and a "." inside a word; at `most`
/// also quotes, brackets, "-", "_", ";" and ":"; at `all` every character, sentence ends and commas included.
/// A symbol below the level is dropped unless it shapes the reading ("," "(" ")" "–", sentence ends) or carries
/// meaning ("$" "€" "'" in a word), which the voice then reads itself.
///
/// Threading: immutable values; Sendable.
public struct SymbolTable: Sendable {
    public enum Level: Int, Comparable, Sendable {
        case none = 100, some = 200, most = 300, all = 500

        public init?(mode: String) {
            switch mode.lowercased() {
            case "none": self = .none
            case "some": self = .some
            case "most": self = .most
            case "all": self = .all
            default: return nil
            }
        }

        public static func < (left: Level, right: Level) -> Bool { left.rawValue < right.rawValue }
    }

    /// What becomes of the character itself: dropped (`never`), kept after its name (`always`: it shapes the
    /// reading), or kept only when its name is not spoken (`unlessSpoken`).
    enum Preserve: Sendable { case never, always, unlessSpoken }

    struct Rule: Sendable {
        let level: Level
        let preserve: Preserve
    }

    static let rules: [Character: Rule] = {
        var rules: [Character: Rule] = [:]
        func set(_ characters: String, _ level: Level, _ preserve: Preserve = .never) {
            for character in characters { rules[character] = Rule(level: level, preserve: preserve) }
        }
        set("#%&*./@+=<>•°¡¿", .some)
        set("\"-;[]\\^_`{}|~“”‘’—«»", .most)
        set(":", .most, .unlessSpoken)
        set("()–", .most, .always)
        set("!'?§", .all)
        set(",…", .all, .always)
        set("$£€¥¢", .all, .unlessSpoken)
        return rules
    }()

    /// The contextual readings speech-dispatcher distinguishes (its "complex symbols").
    enum Context: Sendable { case sentenceEnd, phraseEnd, decimalPoint, inWordApostrophe, negativeNumber }

    static let contextRules: [Context: Rule] = [
        .sentenceEnd: Rule(level: .all, preserve: .always), .phraseEnd: Rule(level: .most, preserve: .always),
        .decimalPoint: Rule(level: .none, preserve: .always), .inWordApostrophe: Rule(level: .all, preserve: .unlessSpoken),
        .negativeNumber: Rule(level: .none, preserve: .unlessSpoken),
    ]

    public let language: String
    let names: [Character: String]
    let minus: String
    /// Said before an upper-case letter when capitals are announced.
    public let capital: String
    let space: String, tab: String, newLine: String

    /// The table for a speech-dispatcher language (`en`, `de-DE`, `fr_CA` …): its base language's, else English.
    public static func forLanguage(_ language: String?) -> SymbolTable {
        let base = (language ?? "en").lowercased().prefix { $0 != "-" && $0 != "_" }
        return tables[String(base)] ?? english
    }

    static let tables = ["en": english, "de": german, "fr": french, "es": spanish]

    /// The character's name in this language, else its English name.
    public func name(of character: Character) -> String? { names[character] ?? Self.english.names[character] }
}
