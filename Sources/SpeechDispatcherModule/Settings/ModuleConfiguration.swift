#if canImport(Glibc)
import Glibc
#endif

/// The module's configuration file (`speakd.conf`, in speech-dispatcher's `modules/` directory), in
/// speech-dispatcher's own dotconf syntax: `Name "argument" …` per line, `#` comments. Every setting is optional.
///
/// ```
/// SpeakdSocket "/run/user/1000/speakd.sock"   # default: $SPEAKD_SOCKET, $XDG_RUNTIME_DIR/speakd.sock, /run/speakd/speakd.sock
/// SpeakdUpstream "kokoro"                      # a named upstream of speakd's configuration
/// SpeakdModel "gpt-4o-mini-tts"
/// SpeakdInstructions "Speak clearly."
/// SpeakdPriority "message"
/// SpeakdVoice "alloy" "en" "none"              # LIST VOICES entries: name, language, variant (replace the default eleven)
/// AddVoice "en" "female1" "nova"               # symbolic voice (male1 … child_female) → voice, per language
/// SpeakdWarmCache "on"                         # warm speakd's phrase cache with key-echo phrases (default on)
/// SpeakdCapitalIcon "cap"                      # what cap_let_recogn=icon says before a capital (default: the language's word)
/// ```
///
/// Threading: a value type; Sendable.
public struct ModuleConfiguration: Sendable, Equatable {
    /// A voice as LIST VOICES reports it.
    public struct Voice: Sendable, Equatable {
        public var name: String
        public var language: String
        public var variant: String

        public init(_ name: String, language: String = "en", variant: String = "none") {
            self.name = name
            self.language = language
            self.variant = variant
        }
    }

    /// OpenAI's built-in voices (`VoiceIdsShared` in the speech contract), the default upstream's.
    public static let openAIVoices = ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                                      "shimmer", "verse"].map { Voice($0) }

    /// speech-dispatcher's symbolic voices mapped onto OpenAI's, by their character in OpenAI's descriptions.
    public static let openAIVoiceTypes: [String: String] = [
        "male1": "onyx", "male2": "echo", "male3": "ash",
        "female1": "nova", "female2": "shimmer", "female3": "coral",
        "child_male": "fable", "child_female": "sage",
    ]

    public var socketPath: String?
    public var upstream: String?
    public var model: String?
    public var instructions: String?
    /// The speakd priority of every job (speech-dispatcher has already ordered the messages it sends).
    public var priority = "message"
    public var voices = ModuleConfiguration.openAIVoices
    /// Symbolic voice → voice name, by language ("" for any language).
    public var voiceTypes: [String: [String: String]] = ["": ModuleConfiguration.openAIVoiceTypes]
    /// Warm speakd's phrase cache with what CHAR and KEY say (letters, digits, symbol and key names) for each voice
    /// setting key echo is used with, so key echo never waits for an upstream.
    public var warmPhraseCache = true
    /// Said before a capital letter with `cap_let_recogn` `icon` (speakd plays no sound icons).
    public var capitalIcon: String?

    public init() {}

    /// Parses the file's text. Unknown names are reported as warnings (speech-dispatcher's own modules refuse to
    /// start on them; a screen reader that cannot speak is worse than an ignored line).
    public init(parsing text: String, warnings: inout [String]) {
        self.init()
        var ownVoices: [Voice] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = Self.words(of: rawLine)
            guard let name = words.first else { continue }
            let arguments = Array(words.dropFirst())
            func first() -> String? {
                guard let value = arguments.first else {
                    warnings.append("line \(number + 1): \(name) needs a value")
                    return nil
                }
                return value
            }
            switch name.lowercased() {
            case "speakdsocket": socketPath = first()
            case "speakdupstream": upstream = first()
            case "speakdmodel": model = first()
            case "speakdinstructions": instructions = first()
            case "speakdwarmcache":
                if let value = first() {
                    switch value.lowercased() {
                    case "on", "yes", "true", "1": warmPhraseCache = true
                    case "off", "no", "false", "0": warmPhraseCache = false
                    default: warnings.append("line \(number + 1): SpeakdWarmCache takes on or off, not \"\(value)\"")
                    }
                }
            case "speakdcapitalicon": capitalIcon = first()
            case "speakdpriority":
                if let value = first() {
                    if ["important", "message", "text", "notification", "progress"].contains(value) { priority = value }
                    else { warnings.append("line \(number + 1): unknown priority \"\(value)\"") }
                }
            case "speakdvoice":
                if let voice = first() {
                    ownVoices.append(Voice(voice, language: arguments.count > 1 ? arguments[1] : "en",
                                           variant: arguments.count > 2 ? arguments[2] : "none"))
                }
            case "addvoice":
                guard arguments.count >= 3 else {
                    warnings.append("line \(number + 1): AddVoice needs a language, a voice type and a voice name")
                    continue
                }
                voiceTypes[arguments[0].lowercased(), default: [:]][arguments[1].lowercased()] = arguments[2]
            case "debug", "loglevel": continue   // speech-dispatcher's common module settings: harmless here
            default:
                warnings.append("line \(number + 1): unknown setting \"\(name)\" ignored")
            }
        }
        if !ownVoices.isEmpty { voices = ownVoices }
    }

    /// Reads the file; a missing file means defaults (speech-dispatcher passes a path even when none exists).
    public static func load(path: String?, warnings: inout [String]) -> ModuleConfiguration {
        guard let path, let text = readFile(path) else { return ModuleConfiguration() }
        return ModuleConfiguration(parsing: text, warnings: &warnings)
    }

    /// The voice for a symbolic voice type in a language: the language's own mapping, then its base language's
    /// (`en` for `en-US`), then the any-language one.
    public func voice(forType type: String, language: String?) -> String? {
        let type = type.lowercased()
        var candidates: [String] = []
        if let language = language?.lowercased() {
            candidates.append(language)
            if let dash = language.firstIndex(where: { $0 == "-" || $0 == "_" }) { candidates.append(String(language[..<dash])) }
        }
        candidates.append("")
        for candidate in candidates {
            if let name = voiceTypes[candidate]?[type] { return name }
        }
        return nil
    }

    /// Splits a dotconf line into words; double-quoted words may hold spaces; `#` outside quotes starts a comment.
    static func words(of line: Substring) -> [String] {
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        for character in line {
            if inQuotes {
                if character == "\"" { inQuotes = false } else { current.append(character) }
            } else if character == "\"" {
                inQuotes = true
                hasWord = true
            } else if character == "#" {
                break
            } else if character == " " || character == "\t" || character == "\r" {
                if hasWord { words.append(current) }
                current = ""
                hasWord = false
            } else {
                current.append(character)
                hasWord = true
            }
        }
        if hasWord { words.append(current) }
        return words
    }

    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
