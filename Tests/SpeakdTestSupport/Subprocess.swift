import Foundation

/// A child process for tests, started with `posix_spawn` and reaped with a blocking `waitpid` on a thread of its own.
///
/// Why not Foundation's `Process`: on this platform its exit monitoring sometimes never reports an exit
/// (`waitUntilExit` hung a CI run for 90 minutes, and a child that execs another program blocked the exit
/// notifications of its siblings). `waitpid` on one pid cannot miss.
///
/// Threading: every method may be called from any thread. Captured output is drained continuously by one thread per
/// pipe, so a chatty child never blocks on a full pipe.
public final class Subprocess: @unchecked Sendable {
    public enum Input: Sendable {
        case null
        /// Written from a thread of its own, then closed (a large input cannot deadlock against captured output).
        case data(Data)
        /// Left open for the test to write with `write(_:)` and end with `closeInput()`.
        case pipe
    }

    public enum Output: Sendable {
        case null
        case capture
        /// Appended to (created if needed).
        case file(String)
        /// Shares the test process's descriptor.
        case inherit
    }

    public let processIdentifier: pid_t
    private let lock = NSCondition()
    private var exitStatus: Int32?
    private var inputDescriptor: Int32 = -1
    private var drains: [Drain?] = [nil, nil]

    /// Starts `executable` (an absolute path) with `arguments`. `environment` replaces the test's environment when
    /// given; `addingEnvironment` is merged over whichever applies.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                addingEnvironment: [String: String] = [:], removingEnvironment: [String] = [],
                stdin: Input = .null, stdout: Output = .capture, stderr: Output = .capture) throws {
        var env = environment ?? ProcessInfo.processInfo.environment
        for key in removingEnvironment { env.removeValue(forKey: key) }
        env.merge(addingEnvironment) { $1 }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = []       // closed in the parent after the spawn
        var childEnds: [Int32] = []        // closed in the parent after the spawn
        defer { childEnds.forEach { close($0) } }

        var inputWriteEnd: Int32 = -1
        switch stdin {
        case .null:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .data, .pipe:
            let (read, write) = try Self.makePipe()
            posix_spawn_file_actions_adddup2(&actions, read, 0)
            childEnds.append(read)
            inputWriteEnd = write
            parentEnds.append(write)
        }
        var captureEnds: [Int32] = [-1, -1]
        for (index, output) in [stdout, stderr].enumerated() {
            let target = Int32(index + 1)
            switch output {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .inherit:
                break
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .capture:
                let (read, write) = try Self.makePipe()
                posix_spawn_file_actions_adddup2(&actions, write, target)
                childEnds.append(write)
                captureEnds[index] = read
                parentEnds.append(read)
            }
        }
        // The parent's pipe ends must not leak into the child (it would never see end of input).
        for descriptor in parentEnds { posix_spawn_file_actions_addclose(&actions, descriptor) }

        // The child starts with every signal at its default action and none blocked, whatever this process (or
        // the thread spawning) has set: a daemon must be stoppable with SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            parentEnds.forEach { close($0) }
            throw SubprocessError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        processIdentifier = pid

        for index in 0..<2 where captureEnds[index] >= 0 { drains[index] = Drain(captureEnds[index]) }
        switch stdin {
        case .data(let data):
            let descriptor = inputWriteEnd
            Thread {
                Self.writeAll(data, to: descriptor)
                close(descriptor)
            }.start()
        case .pipe:
            inputDescriptor = inputWriteEnd
        case .null:
            break
        }
        let child = pid
        Thread { [self] in
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0, errno == EINTR {}
            lock.withLock {
                exitStatus = status
                lock.broadcast()
            }
        }.start()
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            waitUntilExit()
        }
        if inputDescriptor >= 0 { close(inputDescriptor) }
    }

    public var isRunning: Bool { lock.withLock { exitStatus == nil } }

    /// Sends SIGTERM (Foundation's `terminate()`); does not wait.
    public func terminate() { signal(SIGTERM) }

    public func signal(_ number: Int32) {
        if isRunning { kill(processIdentifier, number) }
    }

    public func waitUntilExit() {
        lock.withLock { while exitStatus == nil { lock.wait() } }
    }

    /// Waits at most `seconds`; true if the child has exited.
    @discardableResult
    public func waitUntilExit(timeout seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        return lock.withLock {
            while exitStatus == nil { if !lock.wait(until: deadline) { break } }
            return exitStatus != nil
        }
    }

    /// The exit code, or the signal number if a signal ended it (as Foundation's `Process` reports it).
    public var terminationStatus: Int32 {
        let status = lock.withLock { exitStatus ?? 0 }
        return wasSignalled ? status & 0x7F : (status >> 8) & 0xFF
    }

    public var wasSignalled: Bool {
        let status = lock.withLock { exitStatus ?? 0 }
        return (status & 0x7F) != 0 && (status & 0x7F) != 0x7F
    }

    /// Writes to standard input (`.pipe` only). A child that exited makes this a no-op (SIGPIPE is ignored here).
    public func write(_ data: Data) {
        precondition(inputDescriptor >= 0, "standard input is not a pipe")
        Self.writeAll(data, to: inputDescriptor)
    }

    public func closeInput() {
        if inputDescriptor >= 0 { close(inputDescriptor); inputDescriptor = -1 }
    }

    /// What the child has written to a captured stream so far.
    public var stdoutSoFar: Data { drains[0]?.soFar ?? Data() }
    public var stderrSoFar: Data { drains[1]?.soFar ?? Data() }

    /// Waits for exit and for the captured streams to end (called after exit, so bounded); returns (status, stdout, stderr).
    public func finish() -> (status: Int32, stdout: String, stderr: String) {
        waitUntilExit()
        let out = drains[0]?.wait() ?? Data()
        let err = drains[1]?.wait() ?? Data()
        return (terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Waits for exit and returns the captured bytes.
    public func finishData() -> (status: Int32, stdout: Data, stderr: Data) {
        waitUntilExit()
        return (terminationStatus, drains[0]?.wait() ?? Data(), drains[1]?.wait() ?? Data())
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        // Close-on-exec: a pipe end must reach only the child it was made for (posix_spawn's dup2 clears the flag).
        guard pipe(&ends) == 0 else { throw SubprocessError("pipe: \(String(cString: strerror(errno)))") }
        for descriptor in ends { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    private static func writeAll(_ data: Data, to descriptor: Int32) {
        _ = Self.ignoreSigpipe
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }

    private static let ignoreSigpipe: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    /// Reads one pipe to its end on a thread of its own.
    private final class Drain: @unchecked Sendable {
        private let condition = NSCondition()
        private var data = Data()
        private var ended = false

        init(_ descriptor: Int32) {
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    condition.withLock { data.append(contentsOf: buffer[0..<n]) }
                }
                close(descriptor)
                condition.withLock {
                    ended = true
                    condition.broadcast()
                }
            }.start()
        }

        var soFar: Data { condition.withLock { data } }

        /// The whole stream once it ends; a grandchild still holding the pipe open gets 5 s, then what came so far.
        func wait() -> Data {
            let deadline = Date().addingTimeInterval(5)
            return condition.withLock {
                while !ended { if !condition.wait(until: deadline) { break } }
                return data
            }
        }
    }
}

public struct SubprocessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
