/// What an upstream voice is given to say, from speech-dispatcher's `punctuation_mode`, `spelling_mode` and
/// `cap_let_recogn`: an OpenAI-compatible voice reads text and has none of these switches, so the module writes
/// them out as words before the text is joined into a job (mark offsets then refer to the words said).
///
/// - punctuation: characters at or below the level are spoken by name (`SymbolTable`); without a mode (none was
///   ever sent) the text passes unchanged.
/// - spelling: every character by itself, punctuation by name, capitals announced as below.
/// - capitals, in spelled text and messages of one character: `spell` says the language's word ("cap A"), `icon`
///   the configured icon text (speakd has no sound icons), by default the same short word.
///
/// Threading: a value type; Sendable.
public struct Verbalizer: Sendable {
    public enum Capitals: Sendable, Equatable { case none, spell, icon }

    public var punctuation: SymbolTable.Level?
    public var spelling: Bool
    public var capitals: Capitals
    public var table: SymbolTable
    /// The word for `icon` (`SpeakdCapitalIcon`); nil: the language's word for capitals.
    public var capitalIcon: String?

    public init(punctuation: SymbolTable.Level? = nil, spelling: Bool = false, capitals: Capitals = .none,
                table: SymbolTable = .english, capitalIcon: String? = nil) {
        self.punctuation = punctuation
        self.spelling = spelling
        self.capitals = capitals
        self.table = table
        self.capitalIcon = capitalIcon
    }

    public init(settings: SpeechSettings, capitalIcon: String? = nil) {
        let capitals: Capitals = switch settings.capitalLetterRecognition?.lowercased() {
        case "spell": .spell
        case "icon": .icon
        default: .none
        }
        self.init(punctuation: settings.punctuationMode.flatMap(SymbolTable.Level.init(mode:)), spelling: settings.spellingMode,
                  capitals: capitals, table: SymbolTable.forLanguage(settings.language), capitalIcon: capitalIcon)
    }

    /// A run of a SPEAK's text (between two marks).
    public func text(_ text: String) -> String {
        if spelling { return spell(text) }
        guard let punctuation else { return text }
        return Self.collapsingSpaces(punctuate(text, level: punctuation))
    }

    /// One character said by itself (CHAR, a one-character message, a spelled letter).
    public func character(_ character: Character) -> String {
        switch character {
        case " ", "\u{A0}": return table.space
        case "\t": return table.tab
        case "\n", "\r", "\r\n": return table.newLine
        default: break
        }
        if let name = table.name(of: character) { return name }
        if character.isUppercase && character.isLetter {
            switch capitals {
            case .none: break
            case .spell: return "\(table.capital) \(character)"
            case .icon: return "\(capitalIcon ?? table.capital) \(character)"
            }
        }
        return String(character)
    }

    func spell(_ text: String) -> String {
        text.filter { !$0.isWhitespace }.map { character($0) }.joined(separator: " ")
    }

    /// speech-dispatcher's symbol pre-processing: each symbol becomes " name " when its level is reached, else is
    /// dropped or kept as its rule says.
    func punctuate(_ text: String, level: SymbolTable.Level) -> String {
        let characters = Array(text)
        var result = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            var run = 1
            while index + run < characters.count, characters[index + run] == character { run += 1 }
            if let rule = SymbolTable.rules[character], run >= 4 {
                // "-----": one count instead of forty dashes, or nothing below the level.
                result += level >= rule.level ? " \(run) \(table.name(of: character) ?? "") " : " "
                index += run
                continue
            }
            if character == ".", run == 3 {
                result += replacement(capture: "...", name: table.name(of: "…"), rule: SymbolTable.rules["…"]!, level: level)
                index += 3
                continue
            }
            if let context = Self.context(of: characters, at: index) {
                let name = context == .negativeNumber ? table.minus : context == .decimalPoint ? nil : table.name(of: character)
                result += replacement(capture: String(character), name: name, rule: SymbolTable.contextRules[context]!, level: level)
            } else if let rule = SymbolTable.rules[character] {
                result += replacement(capture: String(character), name: table.name(of: character), rule: rule, level: level)
            } else {
                result.append(character)
            }
            index += 1
        }
        return result
    }

    private func replacement(capture: String, name: String?, rule: SymbolTable.Rule, level: SymbolTable.Level) -> String {
        let spoken = level >= rule.level && name != nil
        let keep = rule.preserve == .always || (rule.preserve == .unlessSpoken && !spoken)
        let suffix = keep ? capture : " "
        return spoken ? " \(name!)\(suffix)" : suffix
    }

    /// The contextual reading of the character at `index`, as speech-dispatcher's complex symbols define them.
    static func context(of characters: [Character], at index: Int) -> SymbolTable.Context? {
        let character = characters[index]
        let previous = index > 0 ? characters[index - 1] : nil
        let next = index + 1 < characters.count ? characters[index + 1] : nil
        let isWord = { (c: Character?) in c.map { ($0.isLetter || $0.isNumber) } ?? false }
        switch character {
        case ".", "!", "?":
            if character == ".", next?.isNumber == true, previous.map({ $0.isNumber || $0 == " " || $0 == "-" }) ?? true {
                return .decimalPoint
            }
            if let previous, !previous.isWhitespace, previous != character,
               next.map({ $0.isWhitespace || "\"'”’)".contains($0) }) ?? true {
                return .sentenceEnd
            }
        case ";", ":":
            if let previous, !previous.isWhitespace, previous != character, next.map(\.isWhitespace) ?? true {
                return .phraseEnd
            }
        case "'", "’":
            if isWord(previous) { return .inWordApostrophe }
        case "-", "−":
            guard !isWord(previous), let next else { return nil }
            if next.isNumber { return .negativeNumber }
            if "$£€¥.".contains(next), index + 2 < characters.count, characters[index + 2].isNumber { return .negativeNumber }
        default:
            break
        }
        return nil
    }

    static func collapsingSpaces(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " }).joined(separator: " ")
    }
}
