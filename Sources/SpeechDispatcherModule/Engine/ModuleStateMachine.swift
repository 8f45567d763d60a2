import SpeakdProtocol

/// The output module's logic with no I/O: commands from speech-dispatcher and messages from speakd go in, lines for
/// speech-dispatcher and requests for speakd come out, in the order they must happen. The runner executes the
/// effects under one lock, so what the machine decides is what the wire sees.
///
/// A SPEAK is split at its marks into pieces, all sent at once as speak jobs (the daemon plays consecutive jobs
/// without a gap). `701 BEGIN` goes out when the first piece's job reports `started` (its first sample reached the
/// device), each piece's marks when it starts, trailing marks and `702 END` when the last piece has ended.
/// STOP cancels the module's own jobs (never the daemon-wide `stop`, which would silence other clients) and
/// reports `703 STOP` when the last cancel is confirmed, which the daemon sends after the audio is cut. PAUSE
/// cancels the pieces from the next `__spd_` mark on, lets the current one finish, reports that mark and
/// `704 PAUSE`; speech-dispatcher then re-sends the rest of the text from that mark when the client resumes.
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
        case exit(Int32)
    }

    /// Whether the runner holds a connection to speakd when a command arrives.
    public enum Daemon: Sendable, Equatable {
        case connected(path: String)
        case unreachable(reason: String)
    }

    private enum PendingRequest: Sendable {
        case speak(message: Int, piece: Int)
        case cancel(message: Int, piece: Int)
        /// A cancel for a job of an abandoned message: nothing waits for it.
        case unattended
    }

    public let configuration: ModuleConfiguration
    public private(set) var settings = SpeechSettings()
    public private(set) var logLevel = 3
    private var nextRequestID = 1
    private var pending: [Int: PendingRequest] = [:]
    private var message: MessageProgress?
    private var serial = 0
    /// Job id → (message serial, piece index), for events.
    private var jobs: [String: (message: Int, piece: Int)] = [:]
    /// States of jobs whose speak reply has not arrived yet (the daemon may send `queued` before the reply).
    private var earlyStates: [String: [String]] = [:]

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
            return [.write([settings.apply(lines) ? ModuleReplies.settingsReceived : ModuleReplies.invalidSetting])]
        case .speak(let ssml):
            return startMessage(SpeechPlan(ssml: ssml), daemon: daemon)
        case .char(let character):
            return startMessage(SpeechPlan(text: SpokenNames.character(character)), daemon: daemon)
        case .key(let key):
            return startMessage(SpeechPlan(text: SpokenNames.key(key)), daemon: daemon)
        case .soundIcon(let icon):
            // speakd has no sound icons; the icon's name tells the user what happened.
            return startMessage(SpeechPlan(text: String(icon.map { $0 == "_" || $0 == "-" ? " " : $0 })), daemon: daemon)
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
        case let .reply(id, ok, job, _, error):
            guard let id, let request = pending.removeValue(forKey: id) else { return [] }
            switch request {
            case .unattended:
                return []
            case let .speak(messageSerial, index):
                return speakAnswered(messageSerial: messageSerial, piece: index, job: ok ? job : nil, error: error)
            case let .cancel(messageSerial, index):
                guard message?.serial == messageSerial else { return [] }
                message!.pieces[index].cancelPending = false
                message!.pieces[index].done = true
                return settle()
            }
        case let .job(job, state, reason):
            guard let owner = jobs[job] else {
                earlyStates[job, default: []].append(state)
                return []
            }
            return jobChanged(owner: owner, job: job, state: state, reason: reason)
        }
    }

    /// The connection to speakd is gone: nothing more will be heard of its jobs, so the message ends now.
    public mutating func connectionLost() -> [Effect] {
        pending.removeAll()
        jobs.removeAll()
        earlyStates.removeAll()
        guard message != nil else { return [.log("lost the connection to speakd")] }
        for index in message!.pieces.indices {
            message!.pieces[index] = MessageProgress.Piece(speakPending: false, done: true)
        }
        return [.log("lost the connection to speakd; ending the message")] + settle()
    }

    // MARK: internals

    private mutating func startMessage(_ plan: SpeechPlan, daemon: Daemon) -> [Effect] {
        var effects = abandonMessage()
        guard case .connected = daemon else {
            if case .unreachable(let reason) = daemon { effects.append(.log("cannot speak: \(reason)")) }
            effects.append(.write([ModuleReplies.cannotSpeak]))
            return effects
        }
        serial += 1
        earlyStates.removeAll()
        message = MessageProgress(serial: serial, plan: plan)
        // The jobs go out before the reply: the daemon starts synthesizing while speech-dispatcher reads it.
        for (index, piece) in plan.pieces.enumerated() {
            effects.append(request("speak", speakFields(for: piece.text), for: .speak(message: serial, piece: index)))
        }
        effects.append(.write([ModuleReplies.speaking]))
        effects += settle()   // a message with nothing to say ends at once
        return effects
    }

    private func speakFields(for text: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "input": .string(text),
            "speed": .number(SettingsMapping.speed(forRate: settings.rate)),
            "volume": .number(SettingsMapping.gain(forVolume: settings.volume)),
            "priority": .string(configuration.priority),
        ]
        if let voice = resolvedVoice { fields["voice"] = .string(voice) }
        if let model = configuration.model { fields["model"] = .string(model) }
        if let upstream = configuration.upstream { fields["upstream"] = .string(upstream) }
        if let instructions = configuration.instructions { fields["instructions"] = .string(instructions) }
        return fields
    }

    /// The client's explicit voice, else its symbolic voice type as configured, else the daemon's default.
    public var resolvedVoice: String? {
        if let voice = settings.synthesisVoice { return voice }
        if let type = settings.voiceType { return configuration.voice(forType: type, language: settings.language) }
        return nil
    }

    private mutating func request(_ op: String, _ fields: [String: JSONValue], for purpose: PendingRequest) -> Effect {
        let id = nextRequestID
        nextRequestID += 1
        pending[id] = purpose
        return .request(id: id, op: op, fields: fields)
    }

    private mutating func speakAnswered(messageSerial: Int, piece index: Int, job: String?, error: String?) -> [Effect] {
        guard message?.serial == messageSerial else {
            // A job of a message that was abandoned before its reply came: make sure it does not play.
            guard let job else { return [] }
            return [request("cancel", ["job": .string(job)], for: .unattended)]
        }
        var effects: [Effect] = []
        message!.pieces[index].speakPending = false
        guard let job else {
            message!.pieces[index].done = true
            effects.append(.log("speakd refused a piece: \(error ?? "no job id in the reply")"))
            return effects + settle()
        }
        message!.pieces[index].job = job
        jobs[job] = (messageSerial, index)
        if message!.pieces[index].cancelWanted { effects += cancel(piece: index) }
        for state in earlyStates.removeValue(forKey: job) ?? [] {
            effects += jobChanged(owner: (messageSerial, index), job: job, state: state, reason: nil)
        }
        return effects + settle()
    }

    private mutating func jobChanged(owner: (message: Int, piece: Int), job: String, state: String, reason: String?) -> [Effect] {
        guard message?.serial == owner.message else {
            if DaemonMessage.finalStates.contains(state) { jobs.removeValue(forKey: job) }
            return []
        }
        let index = owner.piece
        if state == "started" { return pieceStarted(index) }
        guard DaemonMessage.finalStates.contains(state) else { return [] }
        jobs.removeValue(forKey: job)
        message!.pieces[index].done = true
        var effects: [Effect] = []
        if state == "failed" || state == "expired" {
            effects.append(.log("job \(job) \(state): \(reason ?? "no reason given")"))
        }
        return effects + settle()
    }

    private mutating func pieceStarted(_ index: Int) -> [Effect] {
        message!.pieces[index].started = true
        guard message!.ending != .stopping else { return [] }
        var lines: [String] = []
        if !message!.begun {
            message!.begun = true
            lines.append(ModuleReplies.begin)
        }
        var limit = message!.markEnds[index]
        if case .pausing(let mark) = message!.ending { limit = min(limit, mark) }
        lines += reportMarks(upTo: limit)
        return lines.isEmpty ? [] : [.write(lines)]
    }

    /// Lines for the marks not reported yet, up to (not including) `limit` in `plan.allMarks`.
    private mutating func reportMarks(upTo limit: Int) -> [String] {
        let marks = message!.plan.allMarks
        guard message!.marksReported < limit else { return [] }
        let lines = marks[message!.marksReported..<limit].flatMap { ModuleReplies.indexMark($0) }
        message!.marksReported = limit
        return lines
    }

    private mutating func stop() -> [Effect] {
        guard message != nil, message!.ending != .stopping else { return [] }
        message!.ending = .stopping
        var effects: [Effect] = []
        for index in message!.pieces.indices { effects += cancel(piece: index) }
        return effects + settle()
    }

    private mutating func pause() -> [Effect] {
        guard message != nil, message!.ending == .playing else { return [] }
        let marks = message!.plan.allMarks
        // speech-dispatcher resumes from its own `__spd_` sentence marks, so only those are places to stop.
        guard let target = marks.indices.first(where: { $0 >= message!.marksReported && marks[$0].hasPrefix("__spd_") }) else {
            return []   // no place to stop before the end: the message plays out and ends with END
        }
        message!.ending = .pausing(atMark: target)
        var effects: [Effect] = []
        if let first = message!.piece(holdingMark: target) {
            for index in first..<message!.pieces.count { effects += cancel(piece: index) }
        }
        return effects + settle()
    }

    private mutating func cancel(piece index: Int) -> [Effect] {
        let piece = message!.pieces[index]
        guard !piece.done, !piece.cancelPending else { return [] }
        guard let job = piece.job else {
            message!.pieces[index].cancelWanted = true
            return []
        }
        message!.pieces[index].cancelPending = true
        return [request("cancel", ["job": .string(job)], for: .cancel(message: message!.serial, piece: index))]
    }

    /// Ends the message once every piece has ended and every request about it has been answered.
    private mutating func settle() -> [Effect] {
        guard let progress = message, progress.isSettled else { return [] }
        var lines = progress.begun ? [] : [ModuleReplies.begin]
        switch progress.ending {
        case .stopping:
            lines.append(ModuleReplies.stopped)
        case .pausing(let mark):
            lines += reportMarks(upTo: mark + 1)
            lines.append(ModuleReplies.paused)
        case .playing:
            lines += reportMarks(upTo: progress.plan.allMarks.count)
            lines.append(ModuleReplies.end)
        }
        message = nil
        return [.write(lines)]
    }

    /// Drops the current message without events (QUIT, or a SPEAK while one is still going, which the server does
    /// not do): its jobs are cancelled so they do not play on.
    private mutating func abandonMessage() -> [Effect] {
        guard let progress = message else { return [] }
        message = nil
        var effects: [Effect] = []
        for piece in progress.pieces where !piece.done {
            if let job = piece.job { effects.append(request("cancel", ["job": .string(job)], for: .unattended)) }
        }
        // Pieces still waiting for their speak reply are cancelled when it comes (their serial no longer matches).
        return effects
    }
}
