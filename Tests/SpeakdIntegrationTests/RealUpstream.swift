import Foundation

/// The real Kokoro server that `scripts/install-real-upstream` installs (fastkokoro on ONNX Runtime, CPU only), run on
/// a free loopback port. It takes 4–18 s to become healthy, so a test class starts it once and shares it.
///
/// Threading: not thread-safe; used from one test thread.
final class RealUpstream {
    /// Where the server is installed: `$SPEAKD_REAL_UPSTREAM_DIR`, else the installer's default (root's in
    /// /var/cache, anyone else's in ~/.cache).
    static var installDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["SPEAKD_REAL_UPSTREAM_DIR"] { return directory }
        guard getuid() != 0 else { return "/var/cache/speakd-test/kokoro" }
        let cache = environment["XDG_CACHE_HOME"] ?? (environment["HOME"] ?? "") + "/.cache"
        return cache + "/speakd-test/kokoro"
    }

    let process: SpawnedProcess
    let port: Int
    let logFile: String

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    init() throws {
        let run = Self.installDirectory + "/run"
        guard FileManager.default.isExecutableFile(atPath: run) else {
            throw HarnessError("the real Kokoro server is not installed at \(Self.installDirectory): run scripts/install-real-upstream (scripts/test and install-deps --with-tests do)")
        }
        port = Harness.unusedPort()
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("speakd-kokoro-\(port).log").path
        process = try SpawnedProcess(run, [String(port)], logFile: logFile)
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            if try Self.get("http://127.0.0.1:\(port)/health").status == 0 { return }
            guard process.process.isRunning else { break }
            usleep(250_000)
        }
        let (status, log) = process.stop()
        throw HarnessError("the real Kokoro server did not become healthy (status \(status)): \(log.suffix(2_000))")
    }

    deinit {
        process.stop()
        try? FileManager.default.removeItem(atPath: logFile)
    }

    /// `curl -sf URL`: exit status 0 for a 2xx answer, and the body.
    static func get(_ url: String) throws -> (status: Int32, body: String) {
        let result = try Child("/usr/bin/curl", ["-sf", "-m", "5", url]).finish()
        return (result.status, result.stdout)
    }

    /// A daemon configuration with this server as upstream `kokoro`, streaming (`"stream": true`).
    func configuration(extra: String = "") -> String {
        """
        default_upstream = "kokoro"
        [upstream.kokoro]
        base_url = "\(baseURL)"
        model = "kokoro"
        voice = "alloy"
        first_byte_timeout = 60
        idle_timeout = 30
        \(extra)
        [upstream.kokoro.extra_body]
        stream = true
        """
    }
}
