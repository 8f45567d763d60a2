import SpeakdClient
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A speak request from the command line, however it was parsed.
struct SpeakInvocation: Equatable {
    var text: [String] = []
    var voice: String?
    var model: String?
    var speed: Double?
    var instructions: String?
    var upstream: String?
    var priority: String?
    var interrupt = false
    var volume: Double?
    var ttl: Double?
    var wait = false
    var verbose = false
    var socket: String?
    /// `--save FILE`, `--format`, `--no-play`, `--archive` / `--no-archive` (ArgumentParser only).
    var save: String?
    var format: String?
    var play = true
    var archive: Bool?

    /// Sends the text (or standard input) to speakd; with `wait`, returns once heard and exits 1 if it was not.
    func run() {
        let input = text.isEmpty ? readStandardInput() : text.joined(separator: " ")
        guard input.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            fail("nothing to speak: give TEXT or pipe it on standard input")
        }
        var fields: [String: JSONValue] = ["input": .string(input)]
        if let voice { fields["voice"] = .string(voice) }
        if let model { fields["model"] = .string(model) }
        if let speed { fields["speed"] = .number(speed) }
        if let instructions { fields["instructions"] = .string(instructions) }
        if let upstream { fields["upstream"] = .string(upstream) }
        if let priority { fields["priority"] = .string(priority) }
        if interrupt { fields["interrupt"] = .bool(true) }
        if let volume { fields["volume"] = .number(volume) }
        if let ttl { fields["ttl"] = .number(ttl) }
        if let archive { fields["archive"] = .bool(archive) }
        if !play { fields["play"] = .bool(false) }
        var saved: SavedFile?
        if let save {
            // Opened before the request: a path the user cannot write fails here, before anything is synthesized.
            saved = SavedFile.open(path: save, formatName: format)
            fields["save"] = .string(saved!.format.rawValue)
        }

        let daemon = connect(socket: socket)
        let reply: Reply
        do { reply = try daemon.request("speak", fields) } catch { saved?.abandon(); fail(error.description) }
        guard reply.ok, let job = reply.job else {
            saved?.abandon()
            fail(reply.error.map(describe) ?? "speakd refused the request")
        }
        if verbose { note("job \(job) queued (engine: \(reply.engine ?? "?"))") }
        if let saved {
            saved.receive(job: job, from: daemon, verbose: verbose)
            return
        }
        guard wait else { return }
        let talkative = verbose || isatty(2) != 0
        while true {
            let event: Event
            do { event = try daemon.nextEvent() } catch { fail(error.description) }
            guard event.job == job, let state = event.state else { continue }
            switch state {
            case .queued, .saved:
                continue
            case .started, .paused, .resumed:
                if verbose { note("job \(job) \(state.rawValue)") }
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
            case .expired:
                fail("job \(job) expired: \(event.reason ?? "its ttl passed before it could start")")
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

/// Silences speakd now and clears its queue.
func stopSpeech(socket: String?) {
    _ = control("stop", socket: socket)
}

/// Sends one control request and returns the successful reply, or exits with the daemon's error.
func control(_ op: String, _ fields: [String: JSONValue] = [:], socket: String?) -> Reply {
    let daemon = connect(socket: socket)
    let reply: Reply
    do { reply = try daemon.request(op, fields) } catch { fail(error.description) }
    guard reply.ok else { fail(reply.error.map(describe) ?? "\(op) failed") }
    return reply
}

/// Connects to speakd, or exits with a message saying why not and how to start it.
func connect(socket: String?) -> DaemonConnection {
    let path = SocketPath.resolve(explicit: socket, environment: processEnvironment())
    do {
        return try DaemonConnection(path: path)
    } catch {
        fail(error.description)
    }
}

/// Prints `speakctl: message` to stderr and exits with `code`.
func fail(_ message: String, code: Int32 = 1) -> Never {
    note(message)
    exit(code)
}

func note(_ message: String) {
    var line = Array("speakctl: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

func describe(_ error: ProtocolError) -> String {
    error.field.map { "\(error.message) [field: \($0)]" } ?? error.message
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) s"
}
