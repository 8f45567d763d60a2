import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ends a hung integration test within minutes, with its name and the daemons' stacks on screen, instead of letting
/// it use up scripts/test's deadline (which then kills the whole run and tells nothing). When a test has run longer
/// than its allowance (far above its usual length), every daemon it started has its threads shown (their states from
/// /proc, and their stacks through gdb where it is installed) with the tail of its log, and is then killed: the
/// test's own waits fail on the lost daemon and the run goes on.
///
/// Threading: armed and disarmed on the test's thread; fires on a private queue. The pids it acts on are handed over
/// under its lock.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var daemons: [(pid: pid_t, log: @Sendable () -> Data)] = []
    private var timer: DispatchSourceTimer?
    private(set) var fired = false

    /// Stops the previous test's timer and starts one for `test`.
    func arm(test: String, minutes: Double) {
        disarm()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + minutes * 60)
        timer.setEventHandler { [weak self] in self?.fire(test: test, minutes: minutes) }
        lock.withLock {
            self.timer = timer
            daemons = []
            fired = false
        }
        timer.resume()
    }

    func disarm() {
        lock.withLock {
            timer?.cancel()
            timer = nil
            daemons = []
        }
    }

    /// A daemon the running test started: its pid and a way to read what it has logged.
    func watch(pid: pid_t, log: @escaping @Sendable () -> Data) {
        lock.withLock { daemons.append((pid, log)) }
    }

    private func fire(test: String, minutes: Double) {
        let daemons = lock.withLock {
            fired = true
            return self.daemons
        }
        Self.say("speakd-test: \(test) has run for \(minutes) minutes: hung. Its \(daemons.count) daemon(s) follow, then are killed.\n")
        for daemon in daemons where kill(daemon.pid, 0) == 0 {
            Self.say("speakd-test: daemon \(daemon.pid) threads: \(Self.threadStates(of: daemon.pid))\n")
            Self.say(Self.stacks(of: daemon.pid))
            let lines = String(decoding: daemon.log(), as: UTF8.self).split(separator: "\n")
                .filter { !$0.contains(": debug: ") }
            Self.say("speakd-test: daemon \(daemon.pid) log (without debug lines), last 60:\n"
                     + lines.suffix(60).joined(separator: "\n") + "\n")
            kill(daemon.pid, SIGKILL)
        }
    }

    /// Every thread's innermost frames, through gdb when it is installed (attaching takes about 2 s).
    private static func stacks(of pid: pid_t) -> String {
        guard let gdb = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return "speakd-test: (gdb is not installed: no stacks)\n"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gdb)
        process.arguments = ["-p", "\(pid)", "-batch", "-nx", "-ex", "set complaints 0", "-ex", "thread apply all bt 8"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "speakd-test: (gdb did not start)\n" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix("Thread ") || $0.hasPrefix("#") }
            .map { $0.prefix(220) }
        return "speakd-test: daemon \(pid) stacks:\n" + lines.joined(separator: "\n") + "\n"
    }

    /// Each thread's name, scheduler state and kernel wait channel, from /proc.
    private static func threadStates(of pid: pid_t) -> String {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.sorted().map { task in
            let base = "/proc/\(pid)/task/\(task)/"
            let name = ((try? String(contentsOfFile: base + "comm", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
            let stat = (try? String(contentsOfFile: base + "stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
            let channel = (try? String(contentsOfFile: base + "wchan", encoding: .utf8)) ?? "?"
            return "\(name)[\(state) \(channel)]"
        }.joined(separator: " ")
    }

    /// Straight to unbuffered stderr: stdout may be lost with the run.
    static func say(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
