import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// When an upstream was last used, and whether a request is running: what `ConnectionWarmer` decides by.
///
/// Threading: Sendable; any thread (atomics).
final class UpstreamActivity: Sendable {
    private let running = Atomic<Int>(0)
    /// CLOCK_MONOTONIC instants in nanoseconds: the last job request's start or end, and the last traffic of any
    /// kind (a refresh included).
    private let lastJob = Atomic<Int64>(UpstreamActivity.nowNanoseconds())
    private let lastTraffic = Atomic<Int64>(UpstreamActivity.nowNanoseconds())

    func begin() {
        running.add(1, ordering: .relaxed)
        touch(job: true)
    }

    func end() {
        touch(job: true)
        running.subtract(1, ordering: .relaxed)
    }

    func refreshed() { touch(job: false) }

    private func touch(job: Bool) {
        let now = Self.nowNanoseconds()
        if job { lastJob.store(now, ordering: .relaxed) }
        lastTraffic.store(now, ordering: .relaxed)
    }

    var isBusy: Bool { running.load(ordering: .relaxed) > 0 }

    var secondsSinceLastJob: Double { Double(Self.nowNanoseconds() - lastJob.load(ordering: .relaxed)) / 1e9 }
    var secondsSinceLastTraffic: Double { Double(Self.nowNanoseconds() - lastTraffic.load(ordering: .relaxed)) / 1e9 }

    private static func nowNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// Keeps an upstream's pooled connection open between jobs, so the next job after a pause skips the TCP and TLS
/// handshakes (one to three round trips to a remote server). While jobs keep coming — within the window after the
/// last request — a connection idle for `keep_warm` seconds is refreshed with a cheap request; once the window has
/// passed with no job, nothing is sent (an idle daemon stays idle).
///
/// Threading: `run()` is one long-lived task; cancel it to stop.
public struct ConnectionWarmer: Sendable {
    public let client: OpenAISpeechClient

    public init(client: OpenAISpeechClient) {
        self.client = client
    }

    /// Returns at once when keep-warm is off.
    public func run() async {
        let interval = client.configuration.keepWarmSeconds
        guard interval > 0 else { return }
        let window = Double(client.configuration.keepWarmWindowSeconds)
        while !Task.isCancelled {
            let wait = Double(interval) - client.activity.secondsSinceLastTraffic
            if wait > 0 {
                try? await Task.sleep(for: .seconds(wait))
                continue
            }
            if !client.activity.isBusy, client.activity.secondsSinceLastJob < window {
                await client.refreshConnection()
                client.activity.refreshed()
            } else {
                // Busy, or quiet for longer than the window: look again later.
                try? await Task.sleep(for: .seconds(Double(interval)))
            }
        }
    }
}
