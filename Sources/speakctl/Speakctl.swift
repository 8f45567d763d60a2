import ArgumentParser
import SpeakdClient
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

@main
struct Speakctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speakctl",
        abstract: "Speak text through speakd, and control it.",
        discussion: """
            speakctl "Hello there"        speak the words given
            echo "Hello" | speakctl       speak standard input
            speakctl --wait "Done."       return once it has been heard (non-zero if it failed)
            speakctl stop                 silence now and clear the queue
            To speak a word that is also a command, use `speakctl say stop`.
            """,
        version: speakdVersion,
        subcommands: [Say.self, Stop.self, Status.self],
        defaultSubcommand: Say.self)
}

struct ConnectionOptions: ParsableArguments {
    @Option(help: "speakd's socket (default: $SPEAKD_SOCKET, else $XDG_RUNTIME_DIR/speakd.sock, else /run/speakd/speakd.sock).")
    var socket: String?

    func connect() throws -> DaemonConnection {
        let path = SocketPath.resolve(explicit: socket, environment: processEnvironment())
        do {
            return try DaemonConnection(path: path)
        } catch {
            fail(error.description)
        }
    }
}

/// Prints `speakctl: message` to stderr and exits with `code`.
func fail(_ message: String, code: Int32 = 1) -> Never {
    var line = Array("speakctl: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

func note(_ message: String) {
    var line = Array("speakctl: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

struct Say: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Speak TEXT, or standard input when no TEXT is given (the default command).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Voice (upstream voices such as alloy, nova; espeak-ng voices such as en-us, de).")
    var voice: String?

    @Option(help: "Model, e.g. tts-1, tts-1-hd, gpt-4o-mini-tts.")
    var model: String?

    @Option(help: "Speed from 0.25 to 4.0 (1.0 is normal).")
    var speed: Double?

    @Option(help: "How to speak (gpt-4o-mini-tts only), e.g. \"calm and slow\".")
    var instructions: String?

    @Flag(help: "Wait until the text has been heard; exit non-zero if it failed or was cancelled.")
    var wait = false

    @Flag(name: .shortAndLong, help: "Report the job id and the engine that spoke.")
    var verbose = false

    @Argument(help: "The text to speak.")
    var text: [String] = []

    func run() throws {
        let input = text.isEmpty ? readStandardInput() : text.joined(separator: " ")
        guard input.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            fail("nothing to speak: give TEXT or pipe it on standard input")
        }
        var fields: [String: JSONValue] = ["input": .string(input)]
        if let voice { fields["voice"] = .string(voice) }
        if let model { fields["model"] = .string(model) }
        if let speed { fields["speed"] = .number(speed) }
        if let instructions { fields["instructions"] = .string(instructions) }

        let daemon = try connection.connect()
        let reply: Reply
        do { reply = try daemon.request("speak", fields) } catch { fail(error.description) }
        guard reply.ok, let job = reply.job else {
            fail(reply.error.map(describe) ?? "speakd refused the request")
        }
        let talkative = verbose || isatty(2) != 0
        if verbose { note("job \(job) queued (engine: \(reply.engine ?? "?"))") }
        guard wait else { return }
        while true {
            let event: Event
            do { event = try daemon.nextEvent() } catch { fail(error.description) }
            guard event.job == job, let state = event.state else { continue }
            switch state {
            case .queued:
                continue
            case .started:
                if verbose { note("job \(job) started") }
            case .finished:
                if talkative {
                    let seconds = event.duration.map { " (\(formatSeconds($0)))" } ?? ""
                    note("spoken by \(event.engine ?? reply.engine ?? "?")\(seconds)")
                }
                return
            case .cancelled:
                fail("job \(job) was cancelled: \(event.reason ?? "stopped")")
            case .failed:
                fail("job \(job) failed: \(event.error.map(describe) ?? event.reason ?? "unknown reason")")
            }
        }
    }

    private func readStandardInput() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Silence speech now and clear the queue.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let daemon = try connection.connect()
        let reply: Reply
        do { reply = try daemon.request("stop") } catch { fail(error.description) }
        guard reply.ok else { fail(reply.error.map(describe) ?? "stop failed") }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what speakd is doing.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let daemon = try connection.connect()
        let reply: Reply
        do { reply = try daemon.request("status") } catch { fail(error.description) }
        guard reply.ok, let status = reply.status else { fail(reply.error.map(describe) ?? "status failed") }
        print("""
            speakd \(status.version) (protocol \(status.protocol)) on \(daemon.path)
            engine:    \(status.engine)\(status.upstream.map { " (\($0))" } ?? "")
            device:    \(status.device)
            playing:   \(status.currentJob.map { "job \($0)" } ?? "nothing")
            queued:    \(status.queued)
            underruns: \(status.underruns)
            uptime:    \(formatSeconds(status.uptimeSeconds))
            """)
    }
}

func describe(_ error: ProtocolError) -> String {
    error.field.map { "\(error.message) [field: \($0)]" } ?? error.message
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) s"
}
