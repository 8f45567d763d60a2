/// Turns the server's lines into commands. Blocks (SET, AUDIO, LOGLEVEL, SPEAK, CHAR, KEY, SOUND_ICON) start with
/// an acknowledgement the module must send at once, and end with a line holding only `.`; a body line that begins
/// with `.` arrives dot-stuffed (an extra `.` in front), which is removed here.
///
/// Threading: a value type; one thread feeds it.
public struct ModuleCommandReader: Sendable {
    /// What one line produced.
    public enum Output: Sendable, Equatable {
        /// A block began: send this acknowledgement now, the command follows after the terminating dot.
        case acknowledge(String)
        case command(ModuleCommand)
    }

    private enum Block: Sendable {
        case audio, logLevel, set, speak, char, key, soundIcon
    }

    private var block: Block?
    private var lines: [String] = []

    public init() {}

    /// Feeds one line without its `\n`. Returns nil while a block is still being read.
    public mutating func feed(_ rawLine: String) -> Output? {
        let line = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : rawLine
        if let block {
            if line == "." {
                self.block = nil
                defer { lines = [] }
                return .command(Self.command(for: block, lines))
            }
            lines.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
            return nil
        }
        switch line {
        case "INIT": return .command(.initialize)
        case "LIST VOICES": return .command(.listVoices)
        case "STOP": return .command(.stop)
        case "PAUSE": return .command(.pause)
        case "QUIT": return .command(.quit)
        case "AUDIO": return begin(.audio, ModuleReplies.receivingAudio)
        case "LOGLEVEL": return begin(.logLevel, ModuleReplies.receivingLogLevel)
        case "SET": return begin(.set, ModuleReplies.receivingSettings)
        case "SPEAK": return begin(.speak, ModuleReplies.receivingMessage)
        case "CHAR": return begin(.char, ModuleReplies.receivingMessage)
        case "KEY": return begin(.key, ModuleReplies.receivingMessage)
        case "SOUND_ICON": return begin(.soundIcon, ModuleReplies.receivingMessage)
        default:
            if line == "DEBUG" || line.hasPrefix("DEBUG ") {
                return .command(.debug(String(line.dropFirst(5)).trimmingSpaces))
            }
            return .command(.unknown(line))
        }
    }

    private mutating func begin(_ block: Block, _ acknowledgement: String) -> Output {
        self.block = block
        lines = []
        return .acknowledge(acknowledgement)
    }

    private static func command(for block: Block, _ lines: [String]) -> ModuleCommand {
        switch block {
        case .audio, .logLevel, .set:
            var settings: [SettingLine] = []
            for line in lines where !line.isEmpty {
                guard let equals = line.firstIndex(of: "=") else { return .refused(reply: ModuleReplies.badSyntax) }
                settings.append(SettingLine(String(line[..<equals]).trimmingSpaces,
                                            String(line[line.index(after: equals)...]).trimmingSpaces))
            }
            switch block {
            case .audio: return .audio(settings)
            case .logLevel: return .logLevel(settings)
            default: return .set(settings)
            }
        case .speak:
            return .speak(lines.joined(separator: "\n"))
        case .char, .key, .soundIcon:
            // The reference modules refuse multi-line bodies for these one-item messages.
            guard lines.count == 1 else { return .refused(reply: ModuleReplies.moreThanOneLine) }
            switch block {
            case .char: return .char(lines[0])
            case .key: return .key(lines[0])
            default: return .soundIcon(lines[0])
            }
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (FoundationEssentials has no `trimmingCharacters`).
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
