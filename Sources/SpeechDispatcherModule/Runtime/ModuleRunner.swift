import SpeakdClient
import SpeakdProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs the module: reads speech-dispatcher's commands from `input` on the calling thread, keeps a `DaemonLink` to
/// speakd whose reader thread delivers replies and events, and executes the state machine's effects.
///
/// Threading: all state (machine, link, writer) lives in one `Mutex`, so effects are executed in exactly the order
/// the machine produced them, and a reply is never split by an event: the stdin thread and the link's reader thread
/// each hold the lock for one command or one daemon message. Writes to stdout and requests to speakd are single
/// non-blocking-in-practice system calls, so the lock is held for microseconds.
public final class ModuleRunner: Sendable {
    private struct State: ~Copyable {
        var machine: ModuleStateMachine
        var link: DaemonLink?
        /// Bumped per connection, so a closed link's late `onClose` does not drop its successor.
        var linkGeneration = 0
        var exitCode: Int32?
    }

    private let state: Mutex<State>
    private let socketPath: String
    private let output: LineWriter
    private let input: Int32
    private let warmer: CacheWarmer

    /// - Parameters:
    ///   - socketPath: speakd's socket.
    ///   - input/output: speech-dispatcher's pipe ends (stdin and stdout in production, pipes in tests).
    public init(configuration: ModuleConfiguration, socketPath: String, input: Int32 = 0, output: Int32 = 1) {
        state = Mutex(State(machine: ModuleStateMachine(configuration: configuration)))
        self.socketPath = socketPath
        self.output = LineWriter(fd: output)
        self.input = input
        warmer = CacheWarmer(socketPath: socketPath, log: { text in
            let line = "sd_speakd: \(text)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        })
    }

    /// Serves until QUIT or the end of input; returns the exit status.
    public func run() -> Int32 {
        var reader = LineReader(fd: input)
        var commands = ModuleCommandReader()
        while let line = reader.next() {
            guard let parsed = commands.feed(line) else { continue }
            switch parsed {
            case .acknowledge(let reply):
                state.withLock { _ in _ = output.write([reply]) }
            case .command(let command):
                if let code = handle(command) { return code }
            }
        }
        // speech-dispatcher went away without QUIT: make sure nothing we asked for keeps playing.
        state.withLock { state in
            let effects = state.machine.handle(.quit, daemon: .connected(path: socketPath))
            for case .request(let id, let op, let fields) in effects { _ = state.link?.send(id: id, op: op, fields: fields) }
        }
        return 0
    }

    /// Executes one command; returns an exit status when the module must end.
    func handle(_ command: ModuleCommand) -> Int32? {
        state.withLock { state in
            let daemon: ModuleStateMachine.Daemon
            switch command {
            case .initialize, .speak, .char, .key, .soundIcon:
                daemon = ensureConnected(&state)
            default:
                daemon = .connected(path: socketPath)
            }
            let effects = state.machine.handle(command, daemon: daemon)
            execute(effects, in: &state)
            return state.exitCode
        }
    }

    /// Connects if there is no link (first INIT, or speakd restarted since): a screen reader must not need a
    /// restart of speech-dispatcher because the daemon was restarted.
    private func ensureConnected(_ state: inout State) -> ModuleStateMachine.Daemon {
        if state.link != nil { return .connected(path: socketPath) }
        do {
            let link = try DaemonLink(path: socketPath)
            state.linkGeneration += 1
            let generation = state.linkGeneration
            state.link = link
            try link.startReading(onMessage: { [weak self] message in
                self?.deliver(message, generation: generation)
            }, onClose: { [weak self] in
                self?.linkClosed(generation: generation)
            })
            return .connected(path: socketPath)
        } catch {
            return .unreachable(reason: error.description)
        }
    }

    private func deliver(_ message: DaemonMessage, generation: Int) {
        state.withLock { state in
            guard state.linkGeneration == generation, state.link != nil else { return }
            let effects = state.machine.handle(message)
            execute(effects, in: &state)
        }
    }

    private func linkClosed(generation: Int) {
        state.withLock { state in
            guard state.linkGeneration == generation, state.link != nil else { return }
            state.link = nil
            execute(state.machine.connectionLost(), in: &state)
        }
    }

    private func execute(_ effects: [ModuleStateMachine.Effect], in state: inout State) {
        for effect in effects {
            switch effect {
            case .write(let lines):
                output.write(lines)
            case let .request(id, op, fields):
                if state.link?.send(id: id, op: op, fields: fields) != true {
                    // The reader thread will report the closed connection; the machine ends the message then.
                    log("cannot send \(op) to speakd: the connection is gone")
                }
            case .log(let text):
                log(text)
            case .debugLog(let path):
                output.write([redirectLog(to: path)])
            case .warmCache(let fields):
                warmer.submit(fields)
            case .exit(let code):
                state.exitCode = code
                // Requests already written stay queued at speakd; the reader thread's end is not a lost daemon.
                state.link?.shutdown()
                state.link = nil
            }
        }
    }

    private func log(_ text: String) {
        let line = "sd_speakd: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// DEBUG ON FILE / DEBUG OFF: the log (stderr) goes to FILE, or back to where it was.
    private func redirectLog(to path: String?) -> String {
        guard let path else {
            if Self.savedStderr.load(ordering: .relaxed) >= 0 { dup2(Self.savedStderr.load(ordering: .relaxed), 2) }
            return ModuleReplies.debuggingOff
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return ModuleReplies.cannotOpenDebugFile }
        if Self.savedStderr.load(ordering: .relaxed) < 0 { Self.savedStderr.store(dup(2), ordering: .relaxed) }
        dup2(fd, 2)
        close(fd)
        return ModuleReplies.debuggingOn
    }

    private static let savedStderr = Atomic<Int32>(-1)
}
