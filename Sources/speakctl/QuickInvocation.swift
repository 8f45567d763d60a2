/// The invocations speakctl runs for almost every announcement — `speakctl [OPTIONS] TEXT…`, `… | speakctl [OPTIONS]`
/// and `speakctl stop` — recognized without ArgumentParser, whose reflection-driven parsing is most of speakctl's
/// start-up (≈11 of 16 million instructions for `speakctl "hello"`, measured with callgrind).
///
/// It accepts only a strict subset of what `Speakctl` defines and defers everything else — help, versions,
/// other subcommands, unknown or malformed options, `--` — to ArgumentParser, which stays the one definition of the
/// interface and produces every error message. `QuickInvocationTests` checks that both agree.
enum QuickInvocation: Equatable {
    case speak(SpeakInvocation)
    case stop(socket: String?)

    /// The subcommand names, which a first word of text must not be.
    static let commandNames: Set<String> = ["say", "stop", "cancel", "skip", "pause", "resume", "list", "status", "watch", "cache", "upstream", "help"]

    init?(arguments: some Collection<String>) {
        var speak = SpeakInvocation()
        // A subcommand is only ever the first word.
        let sawStop = arguments.first == "stop"
        var words = arguments.dropFirst(sawStop ? 1 : 0).makeIterator()
        while let word = words.next() {
            if !speak.text.isEmpty || (!word.hasPrefix("-") && !sawStop) {
                // Text: once it has begun, an option-looking word is ambiguous (ArgumentParser would treat it as an
                // option), so leave those to it.
                guard !word.hasPrefix("-") else { return nil }
                if speak.text.isEmpty, Self.commandNames.contains(word) { return nil }
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
            case "--voice" where !sawStop:
                guard let voice = value() else { return nil }
                speak.voice = voice
            case "--model" where !sawStop:
                guard let model = value() else { return nil }
                speak.model = model
            case "--upstream" where !sawStop:
                guard let upstream = value() else { return nil }
                speak.upstream = upstream
            case "--instructions" where !sawStop:
                guard let instructions = value() else { return nil }
                speak.instructions = instructions
            case "--speed" where !sawStop:
                guard let text = value(), let speed = Double(text), speed.isFinite else { return nil }
                speak.speed = speed
            case "--priority" where !sawStop:
                guard let priority = value() else { return nil }
                speak.priority = priority
            case "--volume" where !sawStop:
                guard let text = value(), let volume = Double(text), volume.isFinite else { return nil }
                speak.volume = volume
            case "--ttl" where !sawStop:
                guard let text = value(), let ttl = Double(text), ttl.isFinite else { return nil }
                speak.ttl = ttl
            case "--interrupt" where !sawStop && inlineValue == nil:
                speak.interrupt = true
            case "--wait" where !sawStop && inlineValue == nil:
                speak.wait = true
            case "--follow" where !sawStop && inlineValue == nil:
                speak.follow = true
            case "--no-cache" where !sawStop && inlineValue == nil:
                speak.cache = false
            case "--verbose" where !sawStop && inlineValue == nil, "-v" where !sawStop && inlineValue == nil:
                speak.verbose = true
            default:
                return nil
            }
        }
        if sawStop {
            guard speak == SpeakInvocation(socket: speak.socket) else { return nil }
            self = .stop(socket: speak.socket)
        } else {
            self = .speak(speak)
        }
    }

    /// `--name=value` → ("--name", "value"); anything else → (word, nil).
    private static func split(_ word: String) -> (String, String?) {
        guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }

    func run() {
        switch self {
        case .speak(let invocation): invocation.run()
        case .stop(let socket): stopSpeech(socket: socket)
        }
    }
}
