import SpeakdProtocol

/// The life of one message: one speak job carrying the message's marks, its events turned into BEGIN, marks and
/// END, STOP into a cancel of that job, PAUSE into `end_at_mark`. Split from `ModuleStateMachine.swift`, which holds
/// the state and dispatches commands.
///
/// Threading: part of `ModuleStateMachine` (a value type the runner calls under its lock).
extension ModuleStateMachine {
    /// The daemon's limit on a mark's name; longer names are not sent (they are reported with the next mark).
    static let maximumMarkName = 256

    mutating func startMessage(_ input: SpeechInput, daemon: Daemon) -> [Effect] {
        var effects = abandonMessage()
        guard case .connected = daemon else {
            if case .unreachable(let reason) = daemon { effects.append(.log("cannot speak: \(reason)")) }
            effects.append(.write([ModuleReplies.cannotSpeak]))
            return effects
        }
        serial += 1
        earlyEvents.removeAll()
        let speaking = !input.input.isEmpty
        message = MessageProgress(serial: serial, marks: input.markNames, speaking: speaking)
        // The job goes out before the reply: the daemon starts synthesizing while speech-dispatcher reads it.
        if speaking {
            var fields = speakFields(for: input.input)
            let marks = input.marks.filter { (1...Self.maximumMarkName).contains($0.name.unicodeScalars.count) }
            if !marks.isEmpty && !daemonLacksMarks {
                fields["marks"] = .array(marks.map { .object(["name": .string($0.name), "at": .number(Double($0.at))]) })
            }
            message!.speakRequest = fields
            effects.append(request("speak", fields, for: .speak(message: serial)))
        }
        effects.append(.write([ModuleReplies.speaking]))
        effects += settle()   // a message with nothing to say ends at once
        return effects
    }

    func speakFields(for text: String) -> [String: JSONValue] {
        // A screen reader's stream: the sound server's policy may duck music for it as it does for announcements.
        var fields: [String: JSONValue] = ["input": .string(text), "priority": .string(configuration.priority),
                                           "media_role": .string("accessibility")]
        fields.merge(voiceFields) { $1 }
        fields["volume"] = .number(SettingsMapping.gain(forVolume: settings.volume))
        return fields
    }

    /// What selects the audio of a phrase (and so its phrase-cache key): voice, speed, model, upstream, instructions.
    var voiceFields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["speed": .number(SettingsMapping.speed(forRate: settings.rate))]
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

    mutating func request(_ op: String, _ fields: [String: JSONValue], for purpose: PendingRequest) -> Effect {
        let id = nextRequestID
        nextRequestID += 1
        pending[id] = purpose
        return .request(id: id, op: op, fields: fields)
    }

    mutating func speakAnswered(messageSerial: Int, job: String?, error: String?) -> [Effect] {
        guard message?.serial == messageSerial else {
            // The job of a message abandoned before its reply came: make sure it does not play.
            guard let job else { return [] }
            return [request("cancel", ["job": .string(job)], for: .unattended)]
        }
        if job == nil, let error, error.contains("\"marks\""), var fields = message!.speakRequest, fields["marks"] != nil {
            // A speakd older than marks (still running after an upgrade): speak without them; the marks are then
            // reported when the job ends, and PAUSE plays to the end.
            daemonLacksMarks = true
            fields["marks"] = nil
            message!.speakRequest = fields
            return [.log("speakd does not know marks (\(error)); marks are reported at the end of each message"),
                    request("speak", fields, for: .speak(message: messageSerial))]
        }
        message!.speakPending = false
        message!.speakRequest = nil
        guard let job else {
            message!.done = true
            return [.log("speakd refused the message: \(error ?? "no job id in the reply")")] + settle()
        }
        message!.job = job
        jobs[job] = messageSerial
        var effects: [Effect] = []
        if message!.cancelWanted { effects += cancelJob() }
        else if message!.pauseWanted { effects += endAtMark() }
        for event in earlyEvents.removeValue(forKey: job) ?? [] {
            effects += jobChanged(owner: messageSerial, job: job, event: event)
        }
        return effects + settle()
    }

    mutating func jobChanged(owner: Int, job: String, event: JobEvent) -> [Effect] {
        guard message?.serial == owner else {
            if DaemonMessage.finalStates.contains(event.state) { jobs.removeValue(forKey: job) }
            return []
        }
        switch event.state {
        case "started":
            return beginIfNeeded()
        case "mark":
            guard let name = event.mark, message!.ending != .stopping else { return [] }
            guard let index = message!.nextIndex(of: name) else { return [.log("job \(job) reached an unknown mark \(name)")] }
            let lines = (message!.begun ? [] : beginLines()) + reportMarks(upTo: index + 1)
            return [.write(lines)]
        case _ where DaemonMessage.finalStates.contains(event.state):
            jobs.removeValue(forKey: job)
            message!.done = true
            var effects: [Effect] = []
            if event.state == "failed" || event.state == "expired" {
                effects.append(.log("job \(job) \(event.state): \(event.reason ?? "no reason given")"))
            }
            if event.state == "cancelled", message!.ending == .pausing, let mark = event.mark {
                message!.endedAtMark = mark
            }
            return effects + settle()
        default:
            return []   // queued, paused, resumed, states of newer daemons
        }
    }

    mutating func beginIfNeeded() -> [Effect] {
        guard !message!.begun, message!.ending != .stopping else { return [] }
        return [.write(beginLines())]
    }

    mutating func beginLines() -> [String] {
        message!.begun = true
        return [ModuleReplies.begin]
    }

    /// Lines for the marks not reported yet, up to (not including) index `limit`.
    mutating func reportMarks(upTo limit: Int) -> [String] {
        let marks = message!.marks
        guard message!.marksReported < limit else { return [] }
        let lines = marks[message!.marksReported..<limit].flatMap { ModuleReplies.indexMark($0) }
        message!.marksReported = limit
        return lines
    }

    mutating func stop() -> [Effect] {
        guard message != nil, message!.ending != .stopping else { return [] }
        message!.ending = .stopping
        return cancelJob() + settle()
    }

    /// speech-dispatcher resumes from its own `__spd_` sentence marks, so only those are places to stop: the daemon
    /// cuts the job where the next one not yet heard lies.
    mutating func pause() -> [Effect] {
        guard message != nil, message!.ending == .playing, !message!.done else { return [] }
        guard message!.marks[message!.marksReported...].contains(where: { $0.hasPrefix(Self.pausePrefix) }) else {
            return []   // no place to stop before the end: the message plays out and ends with END
        }
        message!.ending = .pausing
        return endAtMark()
    }

    static let pausePrefix = "__spd_"

    mutating func endAtMark() -> [Effect] {
        guard let job = message!.job else {
            message!.pauseWanted = true
            return []
        }
        return [request("end_at_mark", ["job": .string(job), "prefix": .string(Self.pausePrefix)],
                        for: .endAtMark(message: message!.serial))]
    }

    /// The answer to `end_at_mark`: no mark left (or the job already over) means the message plays out to END.
    mutating func endAtMarkAnswered(messageSerial: Int, ok: Bool, mark: String?, error: String?) -> [Effect] {
        guard message?.serial == messageSerial, message!.ending == .pausing else { return [] }
        guard ok, mark != nil else {
            message!.ending = .playing
            return ok ? [] : [.log("end_at_mark refused: \(error ?? "no reason given"); playing to the end")]
        }
        return []
    }

    mutating func cancelJob() -> [Effect] {
        guard !message!.done, !message!.cancelPending else { return [] }
        guard let job = message!.job else {
            message!.cancelWanted = true
            return []
        }
        message!.cancelPending = true
        return [request("cancel", ["job": .string(job)], for: .cancel(message: message!.serial))]
    }

    /// Ends the message once its job has ended and every request that holds 703 has been answered.
    mutating func settle() -> [Effect] {
        guard let progress = message, progress.isSettled else { return [] }
        var lines = progress.begun ? [] : [ModuleReplies.begin]
        switch progress.ending {
        case .stopping:
            lines.append(ModuleReplies.stopped)
        case .pausing where progress.endedAtMark.flatMap({ message!.nextIndex(of: $0) ?? lastReported($0) }) != nil:
            let mark = progress.endedAtMark!
            if let index = message!.nextIndex(of: mark) { lines += reportMarks(upTo: index + 1) }
            lines.append(ModuleReplies.paused)
        case .pausing, .playing:
            lines += reportMarks(upTo: progress.marks.count)
            lines.append(ModuleReplies.end)
        }
        message = nil
        return [.write(lines)]
    }

    /// The mark's index if it is the last one reported (the job's `mark` event came before its final event).
    func lastReported(_ name: String) -> Int? {
        let index = message!.marksReported - 1
        return index >= 0 && message!.marks[index] == name ? index : nil
    }

    /// Drops the current message without events (QUIT, or a SPEAK while one is still going, which the server does
    /// not do): its job is cancelled so it does not play on.
    mutating func abandonMessage() -> [Effect] {
        guard let progress = message else { return [] }
        message = nil
        guard !progress.done, let job = progress.job else { return [] }
        // A job still waiting for its speak reply is cancelled when the reply comes (its serial no longer matches).
        return [request("cancel", ["job": .string(job)], for: .unattended)]
    }
}
