import Foundation
import SpeakdSystem

/// Switches chosen Snapcast groups to speakd's announcement stream for the duration of speech and gives each back
/// the stream it had, over snapserver's JSON-RPC control port — for houses without a `meta` stream. Overlapping
/// announcements switch once and restore once; the streams to restore are kept in a state file so a speakd that
/// died mid-announcement restores them at its next start (`restoreLeftovers`). A server that cannot be reached
/// costs a log line and `lastError`, never an error to the caller: the next request starts from a fresh connection
/// and gives back whatever an earlier failure left switched, and while streams wait to be given back the switcher
/// retries on its own every `Timing.retryInterval` seconds.
///
/// Threading contract: every method may be called from any thread and never blocks the caller (except
/// `waitUntilIdle`, which waits by design): requests run in order on the switcher's own serial thread
/// ("speakd-snapcast-groups") — callers include speakd's Snapcast sender thread, which must not wait on the network.
/// `log` is called on that thread. Dropping the switcher lets its thread finish the requests already queued (and a
/// give-back waiting for `Timing.restoreDelay`), then end.
public final class SnapcastGroupSwitcher: Sendable {
    private let worker: Worker

    /// How long the switcher waits for what. Threading: a value type; Sendable.
    public struct Timing: Sendable, Equatable {
        /// Seconds from the last `announcementEnds` to the give-back. Snapclients drop what they have buffered of a
        /// stream when their group switches, so give snapserver's `buffer` (plus a margin) counted from the last
        /// byte sent, or the end of the speech is cut; 0 gives back at once.
        public var restoreDelay: Double
        /// Seconds between retries of a give-back that failed (server down), while no announcement runs.
        public var retryInterval: Double
        /// The control connection's timeouts, in seconds: to connect, and for each request's answer.
        public var connectTimeout: Double
        public var readTimeout: Double

        public init(restoreDelay: Double = 0, retryInterval: Double = 30, connectTimeout: Double = 2, readTimeout: Double = 3) {
            self.restoreDelay = restoreDelay
            self.retryInterval = retryInterval
            self.connectTimeout = connectTimeout
            self.readTimeout = readTimeout
        }
    }

    /// server: snapserver's control address (HostAndPort, port 1705 usually); stream: the stream id to switch to
    /// (e.g. "announce"); groups: group ids OR group names OR client ids/host ids/names to switch (nil = every
    /// group); stateFile: where the streams to restore are persisted (nil = not persisted); log: called with
    /// messages (on the switcher's thread).
    public init(server: HostAndPort, stream: String, groups: [String]?, stateFile: String?, timing: Timing = Timing(),
                log: @escaping @Sendable (String) -> Void) throws(ThreadStartError) {
        let logic = SnapcastSwitchLogic(server: server, stream: stream, selectors: groups, stateFile: stateFile,
                                        timing: timing, log: log)
        let worker = Worker(logic)
        self.worker = worker
        try Threads.start(name: "speakd-snapcast-groups") { worker.run() }
    }

    deinit { worker.close() }

    /// Speech starts: on the first of overlapping calls, reads Server.GetStatus, remembers each chosen group's
    /// stream (persisted to the state file before switching) and switches the ones not on the announcement stream.
    /// Nested calls only count (or retry a switch that failed).
    public func announcementStarts() { worker.enqueue(.starts) }

    /// Speech ends: on the last matching call, gives each remembered group its stream back (after
    /// `Timing.restoreDelay`; a start within it keeps the groups switched) and deletes the state file. A group
    /// someone switched elsewhere meanwhile is left alone (and the log says so).
    public func announcementEnds() { worker.enqueue(.ends) }

    /// At daemon start: restores what a state file left by an earlier run says, then deletes it. (The file is read
    /// at the first request of any kind, so an announcement that starts first keeps those streams for its end.)
    public func restoreLeftovers() { worker.enqueue(.restoreLeftovers) }

    /// Blocks until every queued request has been handled, at most `timeoutSeconds`; whether it was. (A give-back
    /// waiting for `Timing.restoreDelay` is not a queued request.)
    public func waitUntilIdle(timeoutSeconds: Double) -> Bool { worker.waitUntilIdle(timeoutSeconds: timeoutSeconds) }

    /// The last exchange's failure, nil when it worked (for status).
    public var lastError: String? { worker.lastError }

    /// The queue in front of the logic, and the thread that works through it.
    ///
    /// Threading: `enqueue`, `waitUntilIdle`, `lastError` and `close` from any thread (under `condition`); `run`
    /// on the switcher's thread only, which alone touches `logic`.
    private final class Worker: @unchecked Sendable {
        enum Request { case starts, ends, restoreLeftovers, timer }

        private let logic: SnapcastSwitchLogic
        private let condition = NSCondition()
        private var queue: [Request] = []
        private var busy = false
        private var closing = false
        /// `logic.wakeAt`, copied after each request.
        private var wakeAt: ContinuousClock.Instant?
        private var error: String?

        init(_ logic: SnapcastSwitchLogic) { self.logic = logic }

        func enqueue(_ request: Request) {
            condition.withLock {
                queue.append(request)
                condition.broadcast()
            }
        }

        func close() {
            condition.withLock {
                closing = true
                condition.broadcast()
            }
        }

        var lastError: String? { condition.withLock { error } }

        func waitUntilIdle(timeoutSeconds: Double) -> Bool {
            let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
            return condition.withLock {
                while busy || !queue.isEmpty {
                    if !condition.wait(until: deadline) { break }
                }
                return !busy && queue.isEmpty
            }
        }

        func run() {
            while let request = next() {
                switch request {
                case .starts: logic.announcementStarts()
                case .ends: logic.announcementEnds()
                case .restoreLeftovers: logic.restoreLeftovers()
                case .timer: logic.timerFired()
                }
                finished()
            }
            logic.closing()
        }

        private func finished() {
            let (error, wakeAt) = (logic.lastError, logic.wakeAt)
            condition.withLock {
                self.error = error
                self.wakeAt = wakeAt
                busy = false
                condition.broadcast()
            }
        }

        /// The next request; `.timer` when the logic's wake-up time came first; nil once closed and drained.
        private func next() -> Request? {
            condition.withLock {
                while queue.isEmpty {
                    if closing { return nil }
                    if let wakeAt {
                        let left = ContinuousClock.now.duration(to: wakeAt)
                        if left <= .zero {
                            self.wakeAt = nil
                            busy = true
                            return .timer
                        }
                        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
                        _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
                    } else {
                        condition.wait()
                    }
                }
                busy = true
                return queue.removeFirst()
            }
        }
    }
}
