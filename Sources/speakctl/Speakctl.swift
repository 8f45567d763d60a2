import ArgumentParser
import SpeakdClient
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The command-line interface, defined once, here. `main.swift` recognizes the most common invocations without it
/// (see `QuickInvocation`); everything else, help and every error included, is parsed here.
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

    @Option(help: "A configured upstream to speak through (an [upstream.NAME] of speakd's configuration).")
    var upstream: String?

    @Flag(help: "Wait until the text has been heard; exit non-zero if it failed or was cancelled.")
    var wait = false

    @Flag(name: .shortAndLong, help: "Report the job id and the engine that spoke.")
    var verbose = false

    @Argument(help: "The text to speak.")
    var text: [String] = []

    func run() throws {
        SpeakInvocation(text: text, voice: voice, model: model, speed: speed, instructions: instructions,
                        upstream: upstream, wait: wait, verbose: verbose, socket: connection.socket).run()
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Silence speech now and clear the queue.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        stopSpeech(socket: connection.socket)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what speakd is doing.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let daemon = connect(socket: connection.socket)
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

