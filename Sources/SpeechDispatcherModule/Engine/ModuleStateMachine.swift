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

    enum PendingRequest: Sendable {
        case speak(message: Int, piece: Int)
        case cancel(message: Int, piece: Int)
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
    /// Job id → (message serial, piece index), for events.
    var jobs: [String: (message: Int, piece: Int)] = [:]
    /// States of jobs whose speak reply has not arrived yet (the daemon may send `queued` before the reply).
    var earlyStates: [String: [String]] = [:]

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
}
