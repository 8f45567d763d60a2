import SpeakdProtocol

/// The output module's logic with no I/O: commands from speech-dispatcher and messages from speakd go in, lines for
/// speech-dispatcher and requests for speakd come out, in the order they must happen. The runner executes the
/// effects under one lock, so what the machine decides is what the wire sees.
///
/// A SPEAK becomes one speak job: its text between marks (after punctuation, spelling and capitals are written out
/// as words, `Verbalizer`) joined into one input, its marks sent with their offsets. `701 BEGIN` goes out when the
/// job reports `started` (its first sample reached the device), each `700` mark when the job reports the heard audio
/// reached it, trailing marks and `702 END` when it has finished. STOP cancels the module's own job (never the
/// daemon-wide `stop`, which would silence other clients) and reports `703 STOP` when the cancel is confirmed,
/// which the daemon sends after the audio is cut. PAUSE asks the daemon to end the job at the next `__spd_` mark
/// (`end_at_mark`), reports that mark and `704 PAUSE`; speech-dispatcher then re-sends the rest of the text from
/// that mark when the client resumes.
///
/// Threading: a value type; the runner owns one and calls it under its lock.
public struct ModuleStateMachine: Sendable {
    public enum Effect: Sendable, Equatable {
        /// Lines for speech-dispatcher (stdout), in order.
        case write([String])
        case request(id: Int, op: String, fields: [String: JSONValue])
        /// A line for the module's log (stderr, which speech-dispatcher keeps in its log directory).
        case log(String)
        /// Redirect the log to this file (nil: back to stderr); the runner answers `DEBUG` itself, as only it
        /// knows whether the file could be opened.
        case debugLog(path: String?)
        /// A `cache` `warm` request for the phrase cache, sent on a connection of its own: the daemon answers a
        /// connection's requests in order, and a warm takes as long as its phrases' synthesis.
        case warmCache(fields: [String: JSONValue])
        case exit(Int32)
    }

    /// Whether the runner holds a connection to speakd when a command arrives.
    public enum Daemon: Sendable, Equatable {
        case connected(path: String)
        case unreachable(reason: String)
    }

    enum PendingRequest: Sendable {
        case speak(message: Int)
        case cancel(message: Int)
        case endAtMark(message: Int)
        /// A cancel for a job of an abandoned message: nothing waits for it.
        case unattended
    }

    public let configuration: ModuleConfiguration
    public private(set) var settings = SpeechSettings()
    public private(set) var logLevel = 3
    var nextRequestID = 1
    var pending: [Int: PendingRequest] = [:]
    var message: MessageProgress?
    var serial = 0
    /// Job id → message serial, for events.
    var jobs: [String: Int] = [:]
    /// Events of jobs whose speak reply has not arrived yet (the daemon may send `queued` before the reply).
    var earlyEvents: [String: [JobEvent]] = [:]
    /// Warm key echo's phrases at the first SET after INIT (the settings speech-dispatcher will speak with).
    var warmOnNextSet = false
    /// The connected speakd refused `marks` (a daemon older than them); reset on reconnection.
    var daemonLacksMarks = false
    /// The voice settings the phrase cache was asked to warm for (`voiceFields` as JSON text).
    var warmed: Set<String> = []

    struct JobEvent: Sendable {
        var state: String
        var reason: String?
        var mark: String?
    }

    public init(configuration: ModuleConfiguration) {
        self.configuration = configuration
    }

    /// True while a message is being spoken (between SPEAK and its END, STOP or PAUSE).
    public var isSpeaking: Bool { message != nil }

    // MARK: commands from speech-dispatcher

    public mutating func handle(_ command: ModuleCommand, daemon: Daemon) -> [Effect] {
        switch command {
        case .initialize:
            switch daemon {
            case .connected(let path):
                // The settings are not known yet: speech-dispatcher sends them (voice type, rate …) before each
                // message, so the first SET decides what to warm.
                warmOnNextSet = configuration.warmPhraseCache
                return [.write(["299-sd_speakd: speaking through speakd at \(path)", ModuleReplies.initialized])]
            case .unreachable(let reason):
                return [.write(ModuleReplies.multiline(code: 399, ["sd_speakd cannot reach speakd: \(reason)"],
                                                       closing: ModuleReplies.initFailed)),
                        .exit(1)]
            }
        case .audio(let lines):
            if lines.contains(where: { $0.key == "audio_output_method" && $0.value == "server" }) {
                // speakd plays through its own low-latency ALSA path; returning audio as 705 blocks would add the
                // server's buffering and a copy of every sample through a pipe.
                return [.write(ModuleReplies.multiline(code: 300, ["sd_speakd plays through speakd's own audio path, not the server's"],
                                                       closing: ModuleReplies.audioRefused))]
            }
            return [.write([ModuleReplies.audioInitialized])]
        case .logLevel(let lines):
            if let level = lines.first(where: { $0.key == "log_level" }).flatMap({ Int($0.value) }) { logLevel = level }
            return [.write([ModuleReplies.logLevelSet])]
        case .listVoices:
            let voices = configuration.voices
            guard !voices.isEmpty else { return [.write([ModuleReplies.cannotListVoices])] }
            return [.write(voices.map { "200-\($0.name)\t\($0.language)\t\($0.variant)" } + [ModuleReplies.voiceListSent])]
        case .set(let lines):
            guard settings.apply(lines) else { return [.write([ModuleReplies.invalidSetting])] }
            defer { warmOnNextSet = false }
            return [.write([ModuleReplies.settingsReceived])] + (warmOnNextSet ? warmIfNew() : [])
        case .speak(let ssml):
            let plan = SpeechPlan(ssml: ssml)
            let verbalizer = self.verbalizer
            if plan.pieces.count == 1, plan.pieces[0].text.count == 1, let character = plan.pieces[0].text.first {
                // One character is said as CHAR says it (its name, its capital), not read as a word.
                return startMessage(SpeechInput(plan: plan) { _ in verbalizer.character(character) }, daemon: daemon)
            }
            return startMessage(SpeechInput(plan: plan, transform: verbalizer.text), daemon: daemon)
        case .char(let character):
            return startMessage(SpeechInput(plan: SpeechPlan(text: SpokenNames.character(character, verbalizer))), daemon: daemon)
                + (Self.isConnected(daemon) ? warmIfNew() : [])
        case .key(let key):
            return startMessage(SpeechInput(plan: SpeechPlan(text: SpokenNames.key(key, verbalizer))), daemon: daemon)
                + (Self.isConnected(daemon) ? warmIfNew() : [])
        case .soundIcon(let icon):
            // speakd has no sound icons; the icon's name tells the user what happened.
            return startMessage(SpeechInput(plan: SpeechPlan(text: String(icon.map { $0 == "_" || $0 == "-" ? " " : $0 }))),
                                daemon: daemon)
        case .stop:
            return stop()
        case .pause:
            return pause()
        case .quit:
            var effects = abandonMessage()
            effects.append(.write([ModuleReplies.quit]))
            effects.append(.exit(0))
            return effects
        case .debug(let arguments):
            if arguments == "OFF" { return [.debugLog(path: nil)] }
            if arguments.hasPrefix("ON "), !arguments.dropFirst(3).trimmingSpaces.isEmpty {
                return [.debugLog(path: arguments.dropFirst(3).trimmingSpaces)]
            }
            return [.write([ModuleReplies.badSyntax])]
        case .refused(let reply):
            return [.write([reply])]
        case .unknown(let line):
            return [.write([ModuleReplies.unknownCommand]), .log("unknown command: \(line.prefix(80))")]
        }
    }

    // MARK: messages from speakd

    public mutating func handle(_ daemonMessage: DaemonMessage) -> [Effect] {
        switch daemonMessage {
        case .other:
            return []
        case let .reply(id, ok, job, _, error, mark):
            guard let id, let request = pending.removeValue(forKey: id) else { return [] }
            switch request {
            case .unattended:
                return []
            case .speak(let messageSerial):
                return speakAnswered(messageSerial: messageSerial, job: ok ? job : nil, error: error)
            case .endAtMark(let messageSerial):
                return endAtMarkAnswered(messageSerial: messageSerial, ok: ok, mark: mark, error: error)
            case .cancel(let messageSerial):
                guard message?.serial == messageSerial else { return [] }
                message!.cancelPending = false
                message!.done = true
                return settle()
            }
        case let .job(job, state, reason, mark):
            let event = JobEvent(state: state, reason: reason, mark: mark)
            guard let owner = jobs[job] else {
                earlyEvents[job, default: []].append(event)
                return []
            }
            return jobChanged(owner: owner, job: job, event: event)
        }
    }

    /// The connection to speakd is gone: nothing more will be heard of its jobs, so the message ends now.
    public mutating func connectionLost() -> [Effect] {
        pending.removeAll()
        jobs.removeAll()
        earlyEvents.removeAll()
        daemonLacksMarks = false
        guard message != nil else { return [.log("lost the connection to speakd")] }
        message!.speakPending = false
        message!.cancelPending = false
        message!.done = true
        return [.log("lost the connection to speakd; ending the message")] + settle()
    }
}

extension ModuleStateMachine {
    /// Warming a daemon that cannot be reached would only mark the settings as warm.
    static func isConnected(_ daemon: Daemon) -> Bool {
        if case .connected = daemon { true } else { false }
    }

    /// How the current settings turn text into words.
    var verbalizer: Verbalizer { Verbalizer(settings: settings, capitalIcon: configuration.capitalIcon) }

    /// A phrase-cache warm for CHAR and KEY under the current voice settings, the first time they are used
    /// (at most `maximumWarmings` per session, so a rate slider dragged end to end does not synthesize hundreds
    /// of alphabets).
    mutating func warmIfNew() -> [Effect] {
        guard configuration.warmPhraseCache, warmed.count < Self.maximumWarmings else { return [] }
        let verbalizer = self.verbalizer
        var fields = voiceFields
        let key = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
            + ";\(verbalizer.table.language);\(verbalizer.capitals)"
        guard warmed.insert(key).inserted else { return [] }
        fields["action"] = .string("warm")
        fields["phrases"] = .array(SpokenNames.commonPhrases(verbalizer).map { .string($0) })
        return [.warmCache(fields: fields)]
    }

    static let maximumWarmings = 8
}
