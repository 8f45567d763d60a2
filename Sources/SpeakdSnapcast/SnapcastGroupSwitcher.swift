import Foundation
import SpeakdSystem

/// Switches chosen Snapcast groups to speakd's announcement stream for the duration of speech and gives each back
/// the stream it had, over snapserver's JSON-RPC control port — for houses without a `meta` stream. Overlapping
/// announcements switch once and restore once; the streams to restore are kept in a state file so a speakd that
/// died mid-announcement restores them at its next start (`restoreLeftovers`). A server that cannot be reached
/// costs a log line and `lastError`, never an error to the caller: the next request starts from a fresh connection
/// and gives back whatever an earlier failure left switched, and while streams wait to be given back the switcher
/// retries on its own every `retryInterval` seconds.
///
/// Threading contract: every method may be called from any thread and never blocks the caller (except
/// `waitUntilIdle`, which waits by design): requests run in order on the switcher's own serial thread
/// ("speakd-snapcast-groups") — callers include speakd's Snapcast sender thread, which must not wait on the network.
/// `log` is called on that thread. Dropping the switcher lets its thread finish the requests already queued, then end.
public final class SnapcastGroupSwitcher: Sendable {
    private let worker: Worker

    /// server: snapserver's control address (HostAndPort, port 1705 usually); stream: the stream id to switch to
    /// (e.g. "announce"); groups: group ids OR group names OR client ids/host ids/names to switch (nil = every
    /// group); stateFile: where the streams to restore are persisted (nil = not persisted); log: called with
    /// messages (on the switcher's thread).
    public convenience init(server: HostAndPort, stream: String, groups: [String]?, stateFile: String?,
                            log: @escaping @Sendable (String) -> Void) throws(ThreadStartError) {
        try self.init(server: server, stream: stream, groups: groups, stateFile: stateFile, retryInterval: 30,
                      connectTimeout: 2, readTimeout: 3, log: log)
    }

    /// The same with the timings spelt out: `retryInterval` between retries of a failed restore (seconds), and the
    /// RPC client's timeouts.
    public init(server: HostAndPort, stream: String, groups: [String]?, stateFile: String?, retryInterval: Double,
                connectTimeout: Double, readTimeout: Double,
                log: @escaping @Sendable (String) -> Void) throws(ThreadStartError) {
        let rpc = SnapcastRPCClient(server: server, connectTimeout: connectTimeout, readTimeout: readTimeout)
        let worker = Worker(SnapcastSwitchLogic(rpc: rpc, stream: stream, selectors: groups, stateFile: stateFile, log: log),
                            retryInterval: retryInterval)
        self.worker = worker
        try Threads.start(name: "speakd-snapcast-groups") { worker.run() }
    }

    deinit { worker.close() }

    /// Speech starts: on the first of overlapping calls, reads Server.GetStatus, remembers each chosen group's
    /// stream (persisted to the state file before switching) and switches the ones not on the announcement stream.
    /// Nested calls only count (or retry a switch that failed).
    public func announcementStarts() { worker.enqueue(.starts) }

    /// Speech ends: on the last matching call, gives each remembered group its stream back and deletes the state
    /// file. A group someone switched elsewhere meanwhile is left alone (and the log says so).
    public func announcementEnds() { worker.enqueue(.ends) }

    /// At daemon start: restores what a state file left by an earlier run says, then deletes it. (The file is read
    /// at the first request of any kind, so an announcement that starts first keeps those streams for its end.)
    public func restoreLeftovers() { worker.enqueue(.restoreLeftovers) }

    /// Blocks until every queued request has been handled, at most `timeoutSeconds`; whether it was.
    public func waitUntilIdle(timeoutSeconds: Double) -> Bool { worker.waitUntilIdle(timeoutSeconds: timeoutSeconds) }

    /// The last exchange's failure, nil when it worked (for status).
    public var lastError: String? { worker.lastError }

    /// The queue in front of the logic, and the thread that works through it.
    ///
    /// Threading: `enqueue`, `waitUntilIdle`, `lastError` and `close` from any thread (under `condition`); `run`
    /// on the switcher's thread only, which alone touches `logic`.
    private final class Worker: @unchecked Sendable {
        enum Request { case starts, ends, restoreLeftovers, retry }

        private let logic: SnapcastSwitchLogic
        private let retryInterval: Double
        private let condition = NSCondition()
        private var queue: [Request] = []
        private var busy = false
        private var closing = false
        private var retryPending = false
        private var error: String?

        init(_ logic: SnapcastSwitchLogic, retryInterval: Double) {
            self.logic = logic
            self.retryInterval = retryInterval
        }

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
                case .retry: logic.giveBackAll()
                }
                let (error, pending) = (logic.lastError, logic.restorePending)
                condition.withLock {
                    self.error = error
                    retryPending = pending
                    busy = false
                    condition.broadcast()
                }
            }
        }

        /// The next request; a retry when streams wait to be given back and nothing came for `retryInterval`; nil
        /// once closed and drained.
        private func next() -> Request? {
            condition.withLock {
                while queue.isEmpty {
                    if closing { return nil }
                    if retryPending {
                        if !condition.wait(until: Date(timeIntervalSinceNow: retryInterval)), queue.isEmpty, !closing {
                            busy = true
                            return .retry
                        }
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
