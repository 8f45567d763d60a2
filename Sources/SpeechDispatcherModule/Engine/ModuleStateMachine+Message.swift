import SpeakdProtocol

/// The life of one message: pieces requested as jobs, their events turned into BEGIN, marks and END, and STOP or
/// PAUSE turned into cancels of the module's own jobs. Split from `ModuleStateMachine.swift`, which holds the state
/// and dispatches commands.
///
/// Threading: part of `ModuleStateMachine` (a value type the runner calls under its lock).
extension ModuleStateMachine {
    mutating func startMessage(_ plan: SpeechPlan, daemon: Daemon) -> [Effect] {
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

    func speakFields(for text: String) -> [String: JSONValue] {
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

    mutating func request(_ op: String, _ fields: [String: JSONValue], for purpose: PendingRequest) -> Effect {
        let id = nextRequestID
        nextRequestID += 1
        pending[id] = purpose
        return .request(id: id, op: op, fields: fields)
    }

    mutating func speakAnswered(messageSerial: Int, piece index: Int, job: String?, error: String?) -> [Effect] {
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

    mutating func jobChanged(owner: (message: Int, piece: Int), job: String, state: String, reason: String?) -> [Effect] {
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

    mutating func pieceStarted(_ index: Int) -> [Effect] {
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
    mutating func reportMarks(upTo limit: Int) -> [String] {
        let marks = message!.plan.allMarks
        guard message!.marksReported < limit else { return [] }
        let lines = marks[message!.marksReported..<limit].flatMap { ModuleReplies.indexMark($0) }
        message!.marksReported = limit
        return lines
    }

    mutating func stop() -> [Effect] {
        guard message != nil, message!.ending != .stopping else { return [] }
        message!.ending = .stopping
        var effects: [Effect] = []
        for index in message!.pieces.indices { effects += cancel(piece: index) }
        return effects + settle()
    }

    mutating func pause() -> [Effect] {
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

    mutating func cancel(piece index: Int) -> [Effect] {
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
    mutating func settle() -> [Effect] {
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
    mutating func abandonMessage() -> [Effect] {
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
