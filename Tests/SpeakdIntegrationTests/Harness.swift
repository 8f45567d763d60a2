import Foundation
import SpeakdClient
@_exported import SpeakdTestSupport
import SpeakdProtocol
import XCTest

/// Test harness: real processes (the built `speakd` and `speakctl`, the Python mock upstream, `parec`), on loopback
/// and in a private temporary directory per test.
enum Harness {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// The directory holding the built executables (the test bundle sits beside them).
    static let binDirectory: URL = {
        let candidates = [Bundle.main.bundleURL, Bundle(for: Token.self).bundleURL.deletingLastPathComponent()]
        for candidate in candidates {
            var url = candidate
            for _ in 0..<3 {
                if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("speakd").path) { return url }
                url.deleteLastPathComponent()
            }
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }()

    private final class Token {}

    static var mockScript: String { packageRoot.appendingPathComponent("Tests/SpeakdIntegrationTests/mock_upstream.py").path }

    /// Writes a secret (an API key file) readable by its owner only, as speakd requires.
    static func writePrivately(_ text: String, to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
        guard chmod(url.path, 0o600) == 0 else { throw HarnessError("chmod \(url.path) failed") }
    }

    /// A loopback TCP port nobody listens on (the kernel picks a free one; it is closed again at once), for an
    /// upstream that refuses every connection.
    static func unusedPort() -> Int {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("speakd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Base of the integration tests: each test gets a private temporary directory (sockets, logs, captures), and
/// slots for the processes it starts, released in tearDown: XCTest keeps test-case objects until the whole run ends,
/// so a mock, a daemon or a parec held there would otherwise outlive its test.
class IntegrationTestCase: XCTestCase {
    var directory: URL!
    var upstream: MockUpstream?
    var daemon: DaemonProcess?
    /// A null-sink recording runs in every test playing to PulseAudio: with no client on its monitor, the null sink
    /// drifts to long latencies and a first sound can come a second late.
    var recorder: SinkRecorder?
    /// Ends a hung test with its daemons' stacks on screen (see `Watchdog`).
    static let watchdog = Watchdog()
    /// How long a test of this class may run before it is taken as hung: far above the usual length (the slowest
    /// integration test takes about a minute here).
    class var hangMinutes: Double { 5 }

    override func setUpWithError() throws {
        // On unbuffered stderr: XCTest's own "started" lines sit in stdout's buffer, so when a hung run is killed
        // (scripts/test's deadline) they are lost with it and the log does not say which test hung.
        var line = Array("speakd-test: \(name) starting\n".utf8)
        _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        directory = try Harness.temporaryDirectory()
        Self.watchdog.arm(test: name, minutes: Self.hangMinutes)
    }

    override func tearDownWithError() throws {
        // A failed test shows what the daemon said (its notices and warnings): a timing failure on a CI machine is
        // otherwise hard to explain afterwards.
        if (testRun?.totalFailureCount ?? 0) > 0 {
            for daemon in DaemonProcess.startedInThisTest where daemon.child.process.isRunning {
                let lines = daemon.stop().log.split(separator: "\n").filter { !$0.contains(": debug: ") }
                var text = Array(("speakd-test: the daemon's log (without debug lines), last 40:\n"
                                  + lines.suffix(40).joined(separator: "\n") + "\n").utf8)
                _ = text.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
            }
        }
        DaemonProcess.startedInThisTest = []
        daemon = nil
        upstream = nil
        recorder = nil
        try? FileManager.default.removeItem(at: directory)
        Self.watchdog.disarm()
        if Self.watchdog.fired { XCTFail("hung: stopped by the watchdog after \(Self.hangMinutes) minutes (stacks above)") }
        for late in DaemonProcess.takeLateExits() { XCTFail(late) }
    }
}

/// A child process with captured output, killed when the object goes away. Its output is drained as it comes (a
/// daemon logging at debug level must never block on a full pipe).
final class Child {
    let process: Subprocess

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws {
        var environment = environment
        // Each daemon gets a phrase cache of its own: a test never hears another test's cached audio.
        if executable.hasSuffix("/speakd"), environment["SPEAKD_CACHE_DIR"] == nil {
            environment["SPEAKD_CACHE_DIR"] = try Harness.temporaryDirectory().appendingPathComponent("cache").path
        }
        if executable.hasSuffix("/speakd"), environment["SPEAKD_NORMALIZE"] == nil {
            // Most suites check that what the upstream sent is what is heard, sample for sample; loudness
            // normalisation (on by default) is tested where it is the subject (LoudnessTests).
            environment["SPEAKD_NORMALIZE"] = "false"
        }
        if executable.hasSuffix("/speakd"), environment["SPEAKD_STATE_DIR"] == nil {
            // What speakd learns of an upstream's speed stays with this daemon, never carried into the next test.
            environment["SPEAKD_STATE_DIR"] = try Harness.temporaryDirectory().appendingPathComponent("state").path
        }
        process = try Subprocess(executable, arguments,
                                 addingEnvironment: environment,
                                 removingEnvironment: ["OPENAI_API_KEY", "OPENAI_BASE_URL", "SPEAKD_SOCKET"],
                                 stdin: stdin.map { .data($0) } ?? .null)
    }

    deinit { terminate() }

    /// What the child has written so far.
    var stdoutSoFar: Data { process.stdoutSoFar }
    var stderrSoFar: Data { process.stderrSoFar }

    /// SIGTERM, then waits for the exit: at most 20 s (speakd's own shutdown deadline is 3 s), then SIGKILL and the
    /// failure is reported (`lateExit`).
    func terminate() {
        if process.isRunning {
            process.terminate()
            if !process.waitUntilExit(timeout: 20) {
                DaemonProcess.reportLateExit("\(process.processIdentifier) did not exit within 20 s of SIGTERM")
                process.signal(SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    /// Waits for exit; returns (status, stdout, stderr).
    func finish() -> (status: Int32, stdout: String, stderr: String) { process.finish() }
}

/// The Python mock of `POST /v1/audio/speech` (mock_upstream.py), on an ephemeral loopback port.
final class MockUpstream {
    let child: Child
    let port: Int
    let logDirectory: URL

    init(_ arguments: [String] = [], in directory: URL) throws {
        logDirectory = directory.appendingPathComponent("upstream-log")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        child = try Child("/usr/bin/env", ["python3", Harness.mockScript, "--log", logDirectory.path] + arguments)
        let deadline = Date().addingTimeInterval(10)
        var line = child.stdoutSoFar
        while !line.contains(UInt8(ascii: "\n")) {
            guard child.process.isRunning, Date() < deadline else {
                throw HarnessError("mock upstream exited: \(String(decoding: child.stderrSoFar, as: UTF8.self))")
            }
            usleep(5_000)
            line = child.stdoutSoFar
        }
        let firstLine = line.prefix { $0 != UInt8(ascii: "\n") }
        let text = String(decoding: firstLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else { throw HarnessError("mock said \(text)") }
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// The logged requests, in order: (JSON log, audio bytes sent).
    func requests() throws -> [(log: [String: Any], pcm: Data)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: logDirectory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { name in
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: logDirectory.appendingPathComponent(name))) as! [String: Any]
            let pcmURL = logDirectory.appendingPathComponent(name.replacingOccurrences(of: ".json", with: ".pcm"))
            return (json, (try? Data(contentsOf: pcmURL)) ?? Data())
        }
    }
}

/// A running `speakd` on a private socket.
final class DaemonProcess {
    let child: Child
    let socketPath: String

    /// The daemons the running test started, for its failure report (tests run one at a time).
    nonisolated(unsafe) static var startedInThisTest: [DaemonProcess] = []
    private static let lateExitsLock = NSLock()
    nonisolated(unsafe) private static var lateExits: [String] = []

    /// A child that had to be killed after SIGTERM: reported as a failure of the test that started it.
    static func reportLateExit(_ what: String) {
        Watchdog.say("speakd-test: \(what)\n")
        lateExitsLock.withLock { lateExits.append(what) }
    }

    static func takeLateExits() -> [String] {
        lateExitsLock.withLock {
            defer { lateExits = [] }
            return lateExits
        }
    }

    init(arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        socketPath = directory.appendingPathComponent("speakd.sock").path
        child = try Child(Harness.binDirectory.appendingPathComponent("speakd").path,
                          ["--socket", socketPath, "--log-level", "debug"] + arguments, environment: environment)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? DaemonConnection(path: socketPath)) != nil {
                Self.startedInThisTest.append(self)
                IntegrationTestCase.watchdog.watch(pid: child.process.processIdentifier) { [process = child.process] in
                    process.stdoutSoFar + process.stderrSoFar
                }
                return
            }
            if !child.process.isRunning { break }
            usleep(10_000)
        }
        let (status, _, stderr) = child.finish()
        throw HarnessError("speakd did not start (status \(status)): \(stderr)")
    }

    func connect() throws -> DaemonConnection { try DaemonConnection(path: socketPath) }

    /// Runs speakctl against this daemon.
    func speakctl(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child(Harness.binDirectory.appendingPathComponent("speakctl").path, arguments,
                  environment: ["SPEAKD_SOCKET": socketPath], stdin: stdin).finish()
    }

    /// Stops the daemon with SIGTERM and returns its log.
    func stop() -> (status: Int32, log: String) {
        child.process.terminate()
        let (status, _, stderr) = child.finish()
        return (status, stderr)
    }
}

/// Records the PulseAudio null sink's monitor with `parec` (real-time pacing, sample-exact).
final class SinkRecorder {
    let child: Child
    let file: URL

    /// Starts recording and waits until parec delivers audio (its first second is often late). `environment`
    /// chooses another PulseAudio (`PULSE_RUNTIME_PATH`, `PULSE_SERVER`).
    init(in directory: URL, environment: [String: String] = [:]) throws {
        file = directory.appendingPathComponent("recording.raw")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        child = try Child("/bin/sh", ["-c", "exec parec -d speakers.monitor --raw --format=s16le --rate=24000 --channels=1 --latency-msec=20 > '\(file.path)'"],
                          environment: environment)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0 > 4_800 { return }
            usleep(20_000)
        }
        throw HarnessError("parec recorded nothing: is PulseAudio running with the null sink 'speakers'? (.ci/run starts it)")
    }

    /// Samples recorded so far.
    var samples: [Int16] { Self.samples(of: (try? Data(contentsOf: file)) ?? Data()) }

    func stop() -> [Int16] {
        child.terminate()
        return samples
    }

    static func samples(of data: Data) -> [Int16] {
        data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Int16.self)) }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == Int16 {
    /// Index of the first occurrence of `needle`, or nil.
    func firstIndex(ofSequence needle: ArraySlice<Int16>) -> Int? {
        guard let first = needle.first, needle.count <= count else { return nil }
        var index = 0
        while index <= count - needle.count {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    var rms: Double {
        guard !isEmpty else { return 0 }
        return (reduce(0.0) { $0 + Double($1) * Double($1) } / Double(count)).squareRoot()
    }
}

/// A long-lived child whose standard output and error go to a file (a process that execs another program, like
/// systemd-socket-activate → speakd, or one whose log is read after it stopped).
final class SpawnedProcess {
    let process: Subprocess
    let logFile: String
    var pid: pid_t { process.processIdentifier }

    init(_ executable: String, _ arguments: [String], logFile: String) throws {
        self.logFile = logFile
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        process = try Subprocess(executable, arguments, stdout: .file(logFile), stderr: .file(logFile))
    }

    deinit { _ = stop() }

    /// SIGTERM, then waits; returns the exit status and the log.
    @discardableResult
    func stop() -> (status: Int32, log: String) {
        process.terminate()
        if !process.waitUntilExit(timeout: 20) {
            // Another project's program (a server, speech-dispatcher): said, killed, not our test's failure.
            Watchdog.say("speakd-test: \(process.processIdentifier) did not exit within 20 s of SIGTERM; killed\n")
            process.signal(SIGKILL)
            process.waitUntilExit()
        }
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, log)
    }
}

extension DaemonConnection {
    /// Reads job events until `started` or a final state (never waits for ever on a job that failed).
    func waitForStartOrEnd() throws -> JobState? {
        while true {
            let state = try nextEvent().state
            if state == .started || state?.isFinal == true { return state }
        }
    }
}
