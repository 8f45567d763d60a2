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
            llm "…" | speakctl --follow   speak each sentence as soon as it is complete
            speakctl --interrupt "Now."   cut what is speaking and say this next
            speakctl --priority important --ttl 60 "Doorbell"
            speakctl stop                 silence now and clear the queue
            speakctl pause | resume       hold and continue at the exact sample
            speakctl watch                print every job's events as they happen
            speakctl cache warm FILE      pre-synthesize FILE's lines so they play at once, even offline
            speakctl upstream check       probe the upstream server and show how to configure it
            To speak a word that is also a command, use `speakctl say stop`.
            """,
        version: speakdVersion,
        subcommands: [Say.self, Stop.self, Cancel.self, Skip.self, Pause.self, Resume.self, List.self, Status.self,
                      Watch.self, Cache.self, Upstream.self],
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

    @Option(help: "important, message (default), text, notification or progress: how this job treats others (speech-dispatcher's rules).")
    var priority: String?

    @Flag(help: "Cancel what is speaking (unless important) and speak this next.")
    var interrupt = false

    @Option(help: "Gain from 0.0 to 2.0 (1.0 is the synthesized level).")
    var volume: Double?

    @Flag(name: .customLong("no-normalize"), help: "Play the synthesized level: no loudness normalisation (--volume still applies).")
    var noNormalize = false

    @Option(name: .customLong("lead-in"), help: ArgumentHelp("Silence before the speech when the speakers may be asleep (0: none; default: the daemon's lead_in_ms).", valueName: "MS"))
    var leadIn: Int?

    @Option(help: ArgumentHelp("A chime before the speech: ding, dong, or a WAV, FLAC or Ogg file (\"\" for none; default: the daemon's for the priority).", valueName: "NAME|FILE"))
    var chime: String?

    @Option(name: .customLong("chime-after"), help: ArgumentHelp("A chime after the speech: ding, dong, or a sound file.", valueName: "NAME|FILE"))
    var chimeAfter: String?

    @Option(help: "Drop the announcement if it has not started within SECONDS.")
    var ttl: Double?

    @Flag(help: "Wait until the text has been heard; exit non-zero if it failed or was cancelled.")
    var wait = false

    @Flag(help: "Read standard input as a stream and speak each sentence as soon as it is complete; return once input has ended and everything has been heard.")
    var follow = false

    @Option(help: ArgumentHelp("Also write the audio to FILE (created with your permissions; complete or absent when speakctl exits). Implies --wait.", valueName: "FILE"))
    var save: String?

    @Option(help: "Format of --save: mp3, opus, flac or wav (default: from FILE's extension).")
    var format: String?

    @Flag(help: "With --save: synthesize to the file only, without playing (the queue of played jobs is untouched).")
    var noPlay = false

    @Flag(inversion: .prefixedNo, help: "Archive this job in speakd's archive directory, or not (default: speakd's configuration).")
    var archive: Bool?

    @Flag(help: "Ask the upstream even if the phrase is cached, and do not cache it.")
    var noCache = false

    @Flag(name: .shortAndLong, help: "Report the job id and the engine that spoke.")
    var verbose = false

    @Argument(help: "The text to speak.")
    var text: [String] = []

    func validate() throws {
        if let format, SaveFormat(rawValue: format.lowercased()) == nil && format.lowercased() != "ogg" {
            throw ValidationError("--format must be one of: mp3, opus, flac, wav")
        }
        if format != nil && save == nil { throw ValidationError("--format goes with --save FILE") }
        if noPlay && save == nil && archive != true { throw ValidationError("--no-play needs --save FILE (or --archive)") }
    }

    func run() throws {
        SpeakInvocation(text: text, voice: voice, model: model, speed: speed, instructions: instructions,
                        upstream: upstream, priority: priority, interrupt: interrupt, volume: volume, ttl: ttl,
                        wait: wait, follow: follow, verbose: verbose, socket: connection.socket, save: save,
                        format: format, play: !noPlay, archive: archive, cache: !noCache, normalize: !noNormalize,
                        leadIn: leadIn, chime: chime, chimeAfter: chimeAfter).run()
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
            device:    \(status.device)\(status.deviceError.map { " (unavailable: \($0); the next job tries again)" } ?? "")
            playing:   \(playing(status))
            queued:    \(status.queued)
            underruns: \(status.underruns)
            uptime:    \(formatSeconds(status.uptimeSeconds))
            """)
        for note in status.pacing ?? [] { print("pacing:    \(note)") }
    }

    private func playing(_ status: StatusInfo) -> String {
        guard let job = status.currentJob else { return status.paused ? "nothing (paused)" : "nothing" }
        let position = status.position.map { " at \(formatSeconds($0))" } ?? ""
        let engine = status.currentEngine.map { " by \($0)" } ?? ""
        return "job \(job)\(position)\(engine)\(status.paused ? " (paused)" : "")"
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel one job (its id is printed by `speakctl -v` and `speakctl list`).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The job's id.") var job: String

    func run() throws { cancelJob(job, socket: connection.socket) }
}

struct Skip: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel the job being heard; the next one follows.")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { _ = control("skip", socket: connection.socket) }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Hold speech at the current sample (jobs keep queueing).")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { _ = control("pause", socket: connection.socket) }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue exactly where speech was paused.")
    @OptionGroup var connection: ConnectionOptions
    func run() throws { _ = control("resume", socket: connection.socket) }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the jobs not finished yet, in the order they will be heard.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let jobs = control("list", socket: connection.socket).jobs ?? []
        if jobs.isEmpty { print("nothing queued"); return }
        for job in jobs {
            let expiry = job.expiresIn.map { ", expires in \(formatSeconds($0))" } ?? ""
            print("\(job.job)\t\(job.state)\t\(job.priority.rawValue)\t\(job.engine)\(expiry)\t\(job.text)")
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every job's events as they happen, until interrupted.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the daemon's JSON lines as they are.") var json = false

    func run() throws {
        let daemon = connect(socket: connection.socket)
        do {
            _ = try daemon.request("subscribe")
            while true {
                let event = try daemon.nextAnyEvent()
                if event.event == .audio { continue }
                // Unbuffered: a pipe reader (`speakctl watch | grep …`) sees each event as it happens.
                var line = json ? WireCodec.encodeLine(event) : Array((describeEvent(event) + "\n").utf8)
                _ = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
            }
        } catch {
            fail(error.description)
        }
    }

    private func describeEvent(_ event: Event) -> String {
        var line = "\(formatClock(event.time))  job \(event.job ?? "?")  \(event.state?.rawValue ?? event.event.rawValue)"
        if event.event == .archive {
            return "\(formatClock(event.time))  job \(event.job ?? "?")  archive \(event.state?.rawValue ?? "?")"
                + (event.path.map { "  \($0)" } ?? "") + (event.reason.map { "  (\($0))" } ?? "")
        }
        if let priority = event.priority { line += "  \(priority.rawValue)" }
        if let engine = event.engine, event.state == .queued || event.state == .started { line += "  \(engine)" }
        if let duration = event.duration { line += "  \(formatSeconds(duration))" }
        if let reason = event.error.map(describe) ?? event.reason { line += "  (\(reason))" }
        return line
    }

    private func formatClock(_ seconds: Double) -> String {
        let millis = Int((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

