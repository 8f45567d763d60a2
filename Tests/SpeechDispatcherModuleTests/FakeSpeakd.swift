import Foundation
import SpeechDispatcherModule

/// A real Unix-socket server speaking speakd's protocol (with job control: speak with priority/volume and marks,
/// cancel, end_at_mark, job events) and simulating playback with scripted timing: jobs play one after another
/// without a gap, each for `pieceDuration`; `started` comes `startDelay` after a job reaches the head of the queue;
/// each mark's `mark` event comes when playback reaches its share of the input (`at / input length` of the
/// duration); a cancel is answered `cutDelay` after it arrives, after the `cancelled` event, as the daemon answers
/// once the audio is cut; `end_at_mark` answers at once and ends the job where its chosen mark is reached.
///
/// Threading: all state lives on `queue`; the accept/read thread hands lines to it.
final class FakeSpeakd: @unchecked Sendable {
    struct Received: @unchecked Sendable {
        var nanoseconds: UInt64
        var object: [String: Any]
        var op: String { object["op"] as? String ?? "" }
    }

    let path: String
    var pieceDuration: TimeInterval = 0.05
    var startDelay: TimeInterval = 0.005
    var cutDelay: TimeInterval = 0.001

    private let queue = DispatchQueue(label: "fake-speakd")
    private let listenFD: Int32
    private var received: [Received] = []
    private var waiting: [String] = []
    private var playing: String?
    /// Per job: its marks (name, fraction of the duration) not reported yet, and the mark it is to end at.
    private var marks: [String: [(name: String, fraction: Double)]] = [:]
    private var endMark: [String: String] = [:]
    private var playStart: DispatchTime = .now()
    private var playGeneration = 0
    private var nextJob = 1

    init(path: String) throws {
        self.path = path
        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listenFD, 4) == 0 else { throw NSError(domain: "FakeSpeakd", code: Int(errno)) }
        Thread { [self] in acceptLoop() }.start()
    }

    deinit {
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        unlink(path)
    }

    /// Requests received so far on any connection, in order, except `cache` (the module's warming connection).
    var requests: [Received] { queue.sync { received.filter { $0.op != "cache" } } }
    /// The `cache` requests received.
    var cacheRequests: [Received] { queue.sync { received.filter { $0.op == "cache" } } }

    /// Drops every client connection (the daemon exiting); its jobs are gone.
    func disconnect() {
        queue.sync {
            for fd in clients { shutdown(fd, Int32(SHUT_RDWR)) }
            waiting = []
            playing = nil
            playGeneration += 1
        }
    }

    private var clients: Set<Int32> = []

    /// Each connection on a thread of its own, as the daemon serves clients side by side (the module warms the
    /// phrase cache on a second connection).
    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { return }
            _ = queue.sync { clients.insert(fd) }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        send(["event": "hello", "protocol": 1, "server": "speakd fake", "time": now()], to: fd)
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            let arrival = DispatchTime.now().uptimeNanoseconds
            buffer += chunk[0..<count]
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] {
                    let request = Received(nanoseconds: arrival, object: object)
                    queue.async { self.handle(request, fd: fd) }
                }
            }
        }
        queue.sync {
            clients.remove(fd)
            close(fd)
        }
    }

    private func handle(_ request: Received, fd: Int32) {
        received.append(request)
        let id = request.object["id"] ?? NSNull()
        switch request.op {
        case "speak":
            let job = String(nextJob)
            nextJob += 1
            let length = max((request.object["input"] as? String ?? "").unicodeScalars.count, 1)
            marks[job] = (request.object["marks"] as? [[String: Any]] ?? []).map {
                ($0["name"] as? String ?? "", Double($0["at"] as? Int ?? 0) / Double(length))
            }
            send(["id": id, "ok": true, "job": job, "engine": "openai"], to: fd)
            send(event(job, "queued"), to: fd)
            waiting.append(job)
            if playing == nil { startNext(fd: fd, after: startDelay) }
        case "cancel":
            let job = request.object["job"] as? String ?? ""
            queue.asyncAfter(deadline: .now() + cutDelay) { [self] in
                var cancelled = 0
                if playing == job {
                    playing = nil
                    playGeneration += 1
                    cancelled = 1
                    startNext(fd: fd, after: startDelay)
                } else if let index = waiting.firstIndex(of: job) {
                    waiting.remove(at: index)
                    cancelled = 1
                }
                if cancelled == 1 { send(event(job, "cancelled"), to: fd) }
                send(["id": request.object["id"] ?? NSNull(), "ok": true, "cancelled": cancelled], to: fd)
            }
        case "end_at_mark":
            let job = request.object["job"] as? String ?? ""
            let prefix = request.object["prefix"] as? String ?? ""
            guard playing == job || waiting.contains(job) else {
                send(["id": id, "ok": false, "error": ["code": "unknown_job", "message": "no job \(job)"]], to: fd)
                return
            }
            guard let mark = marks[job]?.first(where: { $0.name.hasPrefix(prefix) }) else {
                send(["id": id, "ok": true], to: fd)
                return
            }
            endMark[job] = mark.name
            send(["id": id, "ok": true, "mark": mark.name], to: fd)
        default:
            send(["id": id, "ok": true], to: fd)
        }
    }

    /// Reports the playing job's marks as playback reaches them; ends it at its end mark or finishes it.
    private func advance(_ job: String, generation: Int, fd: Int32) {
        guard generation == playGeneration, playing == job else { return }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - playStart.uptimeNanoseconds) / 1e9
        while let mark = marks[job]?.first, mark.fraction * pieceDuration <= elapsed + 0.0005 {
            marks[job]!.removeFirst()
            send(event(job, "mark", mark: mark.name), to: fd)
            if endMark[job] == mark.name {
                send(event(job, "cancelled", mark: mark.name, reason: "ended at mark \(mark.name)"), to: fd)
                return next(after: job, fd: fd)
            }
        }
        if elapsed + 0.0005 >= pieceDuration {
            send(event(job, "finished"), to: fd)
            return next(after: job, fd: fd)
        }
        let due = min(marks[job]?.first.map { $0.fraction * pieceDuration } ?? pieceDuration, pieceDuration)
        queue.asyncAfter(deadline: playStart + due) { [self] in advance(job, generation: generation, fd: fd) }
    }

    private func next(after job: String, fd: Int32) {
        marks[job] = nil
        endMark[job] = nil
        playing = nil
        playGeneration += 1
        // The next job follows without a gap, as the daemon joins consecutive jobs.
        startNext(fd: fd, after: 0)
    }

    private func startNext(fd: Int32, after delay: TimeInterval) {
        let generation = playGeneration
        queue.asyncAfter(deadline: .now() + delay) { [self] in
            guard generation == playGeneration, playing == nil, !waiting.isEmpty else { return }
            let job = waiting.removeFirst()
            playing = job
            playGeneration += 1
            let thisPlay = playGeneration
            playStart = .now()
            send(event(job, "started"), to: fd)
            advance(job, generation: thisPlay, fd: fd)
        }
    }

    private func event(_ job: String, _ state: String, mark: String? = nil, reason: String? = nil) -> [String: Any] {
        var event: [String: Any] = ["event": "job", "job": job, "state": state, "time": now(), "engine": "openai"]
        if let mark { event["mark"] = mark }
        if let reason { event["reason"] = reason }
        return event
    }

    private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func send(_ object: [String: Any], to fd: Int32) {
        guard var data = try? JSONSerialization.data(withJSONObject: object) else { return }
        data.append(UInt8(ascii: "\n"))
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// The module under test, in process: a `ModuleRunner` on its own thread, fed through a pipe as speech-dispatcher
/// feeds stdin, its stdout read back line by line with arrival times.
final class ModuleHarness {
    let toModule: Pipe
    let fromModule: Pipe
    private var buffer: [UInt8] = []
    private(set) var transcript: [String] = []
    private let finished = DispatchSemaphore(value: 0)
    private let exitBox = ExitBox()

    final class ExitBox: @unchecked Sendable { var code: Int32? }

    init(socketPath: String, configuration: ModuleConfiguration = ModuleConfiguration()) {
        toModule = Pipe()
        fromModule = Pipe()
        let runner = ModuleRunner(configuration: configuration, socketPath: socketPath,
                                              input: toModule.fileHandleForReading.fileDescriptor,
                                              output: fromModule.fileHandleForWriting.fileDescriptor)
        let box = exitBox
        let done = finished
        Thread {
            box.code = runner.run()
            done.signal()
        }.start()
    }

    /// Sends lines as speech-dispatcher does; returns the time the last byte was written.
    @discardableResult
    func send(_ lines: String...) -> UInt64 { send(lines) }

    @discardableResult
    func send(_ lines: [String]) -> UInt64 {
        let text = lines.map { $0 + "\n" }.joined()
        toModule.fileHandleForWriting.write(Data(text.utf8))
        return DispatchTime.now().uptimeNanoseconds
    }

    /// Reads lines until one equals `last` (or the time is up); returns them and the arrival time of the last.
    @discardableResult
    func read(until last: String, timeout: TimeInterval = 5) -> (lines: [String], nanoseconds: UInt64) {
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        let fd = fromModule.fileHandleForReading.fileDescriptor
        while Date() < deadline {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                lines.append(line)
                transcript.append(line)
                if line == last { return (lines, DispatchTime.now().uptimeNanoseconds) }
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = Glibc.read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            buffer += chunk[0..<count]
        }
        return (lines, 0)
    }

    /// Lines that arrive within `interval` (to check that nothing more comes).
    func drain(for interval: TimeInterval) -> [String] {
        read(until: "\u{0}never", timeout: interval).lines
    }

    func waitForExit(timeout: TimeInterval = 5) -> Int32? {
        guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
        return exitBox.code
    }
}
