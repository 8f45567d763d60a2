import SpeakdClient
import SpeakdProtocol
import SpeakdText
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
    var follow = false
    var verbose = false
    var socket: String?
    /// `--save FILE`, `--format`, `--no-play`, `--archive` / `--no-archive` (ArgumentParser only).
    var save: String?
    var format: String?
    var play = true
    var archive: Bool?
    /// `--no-cache`: ask the upstream even when the phrase is cached, and store nothing.
    var cache = true
    /// `--no-normalize`: play the synthesized level (no loudness normalisation; `--volume` still applies).
    var normalize = true
    /// `--lead-in MS`: silence before the speech when the output may be asleep; nil: the daemon's setting.
    var leadIn: Int? = nil
    /// `--chime NAME|FILE` and `--chime-after NAME|FILE`; a relative file is made absolute (the daemon reads it).
    var chime: String? = nil
    var chimeAfter: String? = nil

    /// Sends the text (or standard input) to speakd; with `wait`, returns once heard and exits 1 if it was not.
    func run() {
        if follow { return runFollowing() }
        let input = text.isEmpty ? readStandardInput() : text.joined(separator: " ")
        guard input.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            fail("nothing to speak: give TEXT or pipe it on standard input")
        }
        speakOnce(fields: requestFields(input: input))
    }

    /// A chime's name as given, or a file path made absolute against the current directory (the daemon has another).
    static func chimeArgument(_ text: String) -> String {
        guard !text.isEmpty, !text.hasPrefix("/"), text.contains(".") || text.contains("/") else { return text }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return text }
        return String(cString: buffer) + "/" + text
    }

    /// The speak request's members for `input`, from the options.
    private func requestFields(input: String) -> [String: JSONValue] {
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
        if !cache { fields["cache"] = .bool(false) }
        if !normalize { fields["normalize"] = .bool(false) }
        if let leadIn { fields["lead_in_ms"] = .number(Double(leadIn)) }
        if let chime { fields["chime"] = .string(Self.chimeArgument(chime)) }
        if let chimeAfter { fields["chime_after"] = .string(Self.chimeArgument(chimeAfter)) }
        return fields
    }

    private func speakOnce(fields: [String: JSONValue]) {
        var fields = fields
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
            case .mark:
                if verbose { note("job \(job) reached mark \(event.mark ?? "?")") }
            case .finished:
                // Heard, but maybe not as asked (the embedded engine stood in for a failing upstream): say so.
                if let reason = event.reason { note(reason) }
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

    /// `--follow`: reads standard input as it arrives and sends each sentence as soon as it is complete (each its own
    /// job: the daemon joins them without a gap). Returns once input has ended and every job has ended; exits 1 if
    /// any was not heard.
    private func runFollowing() {
        guard text.isEmpty else { fail("--follow reads standard input; give no TEXT with it") }
        guard save == nil else { fail("--follow cannot --save: each sentence is its own job") }
        let daemon = connect(socket: socket)
        var sentences = SentenceStream()
        var jobs: Set<String> = []
        var unheard: [String: String] = [:]
        var ended: Set<String> = []
        func record(_ events: [Event]) {
            for event in events {
                guard let job = event.job, let state = event.state, state.isFinal else { continue }
                ended.insert(job)
                if state != .finished { unheard[job] = "\(state.rawValue): \(event.error.map(describe) ?? event.reason ?? "")" }
            }
        }
        func send(_ sentence: String) {
            let reply: Reply
            do { reply = try daemon.request("speak", requestFields(input: sentence)) } catch { fail(error.description) }
            guard reply.ok, let job = reply.job else { fail(reply.error.map(describe) ?? "speakd refused the request") }
            if verbose { note("job \(job): \(sentence.prefix(60))") }
            jobs.insert(job)
            record(daemon.takeBufferedEvents())
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var carry: [UInt8] = []
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            // A UTF-8 sequence split between two reads is completed by the next one.
            var bytes = carry + chunk[0..<count]
            let complete = Self.completeUTF8Prefix(bytes)
            carry = Array(bytes[complete...])
            bytes.removeSubrange(complete...)
            for sentence in sentences.append(String(decoding: bytes, as: UTF8.self)) { send(sentence) }
        }
        if !carry.isEmpty { _ = sentences.append(String(decoding: carry, as: UTF8.self)) }
        for sentence in sentences.finish() { send(sentence) }
        while !jobs.isSubset(of: ended) {
            do { record([try daemon.nextEvent()]) } catch { fail(error.description) }
        }
        if !unheard.isEmpty {
            fail("\(unheard.count) of \(jobs.count) sentences were not heard; first: job \(unheard.keys.sorted().first!) \(unheard[unheard.keys.sorted().first!]!)")
        }
    }

    /// Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        var continuation = 0
        while index > 0, bytes[index - 1] & 0xC0 == 0x80, continuation < 3 {
            index -= 1
            continuation += 1
        }
        guard index > 0 else { return bytes.count }
        let lead = bytes[index - 1]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > continuation + 1 ? index - 1 : bytes.count
    }

    private func readStandardInput() -> String { readAll(descriptor: 0) }
}

/// Everything left to read on `descriptor`, as UTF-8 text (a read error ends it like end of file).
func readAll(descriptor: Int32) -> String {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
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
    // Only the two variables the path depends on: copying the whole environment is 0.4 M instructions of a
    // `speakctl stop`, before its request leaves.
    var environment: [String: String] = [:]
    for name in ["SPEAKD_SOCKET", "XDG_RUNTIME_DIR"] { environment[name] = getenv(name).map { String(cString: $0) } }
    let path = SocketPath.resolve(explicit: socket, environment: environment)
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

/// Cancels one job, saying so when it had already ended.
func cancelJob(_ job: String, socket: String?) {
    let reply = control("cancel", ["job": .string(job)], socket: socket)
    if reply.cancelled == 0 { note("job \(job) had already ended") }
}

/// Writes `text` to standard output unbuffered (speakctl exits right after).
func writeOut(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}
