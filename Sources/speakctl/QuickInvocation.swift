import SpeakdProtocol

/// The invocations speakctl runs for almost every announcement and every control — `speakctl [OPTIONS] TEXT…`,
/// `… | speakctl [OPTIONS]`, `speakctl stop | skip | pause | resume | cancel JOB`, `--version`, `--help` —
/// recognized without touching ArgumentParser, whose reflection-driven parsing (protocol conformance scans) is most
/// of speakctl's start-up: 17 of 20 million instructions for `speakctl --version`, measured with callgrind.
///
/// It accepts only a strict subset of what `Speakctl` defines and defers everything else — subcommands' help, other
/// subcommands, unknown or malformed options, `--` — to ArgumentParser, which stays the one definition of the
/// interface and produces every error message. `QuickInvocationTests` checks that both agree, and that the help
/// printed here (`SpeakctlHelp.text`) is ArgumentParser's, word for word.
enum QuickInvocation: Equatable {
    case speak(SpeakInvocation)
    /// `stop`, `skip`, `pause`, `resume`: a request with no fields.
    case request(op: String, socket: String?)
    case cancel(job: String, socket: String?)
    case version
    case help

    /// The subcommand names, which a first word of text must not be.
    static let commandNames: Set<String> = ["say", "stop", "cancel", "skip", "pause", "resume", "list", "status", "watch", "cache", "upstream", "help"]
    /// Subcommands whose only option is `--socket` and whose only request has no fields.
    static let controlNames: Set<String> = ["stop", "skip", "pause", "resume"]

    init?(arguments: some Collection<String>) {
        guard let parsed = Self.parse(arguments) else { return nil }
        self = parsed
    }

    private static func parse(_ arguments: some Collection<String>) -> QuickInvocation? {
        guard let first = arguments.first else { return .speak(SpeakInvocation()) }
        if arguments.count == 1 {
            switch first {
            case "--version": return .version
            case "--help", "-h": return SpeakctlHelp.fitsTerminal() ? .help : nil
            default: break
            }
        }
        if controlNames.contains(first) || first == "cancel" { return controlInvocation(first, arguments.dropFirst()) }
        return speakInvocation(arguments)
    }

    /// `stop [--socket PATH]`, `cancel JOB [--socket PATH]` (in any order, as ArgumentParser takes them).
    private static func controlInvocation(_ op: String, _ arguments: some Collection<String>) -> QuickInvocation? {
        var socket: String?
        var positional: [String] = []
        var words = arguments.makeIterator()
        while let word = words.next() {
            let (name, inlineValue) = Self.split(word)
            if name == "--socket" {
                guard socket == nil, let value = inlineValue ?? words.next(), !value.hasPrefix("-") else { return nil }
                socket = value
            } else if word.hasPrefix("-") {
                return nil
            } else {
                positional.append(word)
            }
        }
        if op == "cancel" {
            guard positional.count == 1 else { return nil }
            return .cancel(job: positional[0], socket: socket)
        } else {
            guard positional.isEmpty else { return nil }
            return .request(op: op, socket: socket)
        }
    }

    /// `[OPTIONS] TEXT…` or `[OPTIONS]` (standard input).
    private static func speakInvocation(_ arguments: some Collection<String>) -> QuickInvocation? {
        var speak = SpeakInvocation()
        var words = arguments.makeIterator()
        while let word = words.next() {
            if !speak.text.isEmpty || !word.hasPrefix("-") {
                // Text: once it has begun, an option-looking word is ambiguous (ArgumentParser would treat it as an
                // option), so leave those to it.
                guard !word.hasPrefix("-") else { return nil }
                if speak.text.isEmpty, commandNames.contains(word) { return nil }
                speak.text.append(word)
                continue
            }
            let (name, inlineValue) = Self.split(word)
            // ArgumentParser reads `--voice --wait` as a missing value, not as the voice "--wait": so do we.
            func value() -> String? {
                if let inlineValue { return inlineValue }
                guard let next = words.next(), !next.hasPrefix("-") else { return nil }
                return next
            }
            switch name {
            case "--socket":
                guard let path = value() else { return nil }
                speak.socket = path
            case "--voice":
                guard let voice = value() else { return nil }
                speak.voice = voice
            case "--model":
                guard let model = value() else { return nil }
                speak.model = model
            case "--upstream":
                guard let upstream = value() else { return nil }
                speak.upstream = upstream
            case "--instructions":
                guard let instructions = value() else { return nil }
                speak.instructions = instructions
            case "--speed":
                guard let text = value(), let speed = Double(text), speed.isFinite else { return nil }
                speak.speed = speed
            case "--priority":
                guard let priority = value() else { return nil }
                speak.priority = priority
            case "--volume":
                guard let text = value(), let volume = Double(text), volume.isFinite else { return nil }
                speak.volume = volume
            case "--ttl":
                guard let text = value(), let ttl = Double(text), ttl.isFinite else { return nil }
                speak.ttl = ttl
            case "--interrupt" where inlineValue == nil:
                speak.interrupt = true
            case "--wait" where inlineValue == nil:
                speak.wait = true
            case "--follow" where inlineValue == nil:
                speak.follow = true
            case "--no-cache" where inlineValue == nil:
                speak.cache = false
            case "--verbose" where inlineValue == nil, "-v" where inlineValue == nil:
                speak.verbose = true
            default:
                return nil
            }
        }
        return .speak(speak)
    }

    /// `--name=value` → ("--name", "value"); anything else → (word, nil).
    private static func split(_ word: String) -> (String, String?) {
        guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }

    func run() {
        switch self {
        case .speak(let invocation): invocation.run()
        case .request(let op, let socket): _ = control(op, socket: socket)
        case .cancel(let job, let socket): cancelJob(job, socket: socket)
        case .version: writeOut(speakdVersion + "\n")
        case .help: writeOut(SpeakctlHelp.text)
        }
    }
}
