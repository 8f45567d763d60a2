import NIOCore
import Synchronization

/// Thrown when an upstream's response body stays silent longer than its idle timeout.
///
/// Threading: a value type; Sendable.
struct BodyIdleTimeout: Error, Sendable, Equatable {
    var seconds: Int64
}

/// Reads a response body part by part into a consumer on the calling task, failing with `BodyIdleTimeout` when the
/// upstream sends nothing for `idleTimeout` while it is being waited for.
///
/// Why not the HTTP client's read timeout: that one also times the wait for the response headers, so the first-byte
/// and idle timeouts could not differ. Only time spent waiting on the upstream counts here: while the consumer is
/// busy (the player's ring is full, playback is paused), the body is not read and the clock does not run.
///
/// The body is iterated by a child task that hands over one part at a time and waits until it has been consumed, so
/// back-pressure still reaches the socket; a second child watches the clock. Cancelling the calling task cancels both,
/// which closes the connection (how a client cancels a stream).
///
/// Threading: `forEachPart` may be called from any task, several at once; `consume` runs on the calling task.
enum IdleTimedBody {
    static func forEachPart<Body: AsyncSequence & Sendable>(
        of body: Body, idleTimeout seconds: Int64, _ consume: (ByteBuffer) async throws -> Void
    ) async throws where Body.Element == ByteBuffer {
        let (parts, partInput) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let (consumed, consumedInput) = AsyncStream<Void>.makeStream()
        let clock = WaitClock()
        let timeout = Duration.seconds(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    var acknowledgements = consumed.makeAsyncIterator()
                    clock.startWaiting()
                    for try await part in body {
                        clock.stopWaiting()
                        partInput.yield(part)
                        guard await acknowledgements.next() != nil else { return }
                        clock.startWaiting()
                    }
                    clock.stopWaiting()
                    partInput.finish()
                } catch {
                    partInput.finish(throwing: error)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    switch clock.check(timeout: timeout) {
                    case .expired:
                        partInput.finish(throwing: BodyIdleTimeout(seconds: seconds))
                        return
                    case .sleep(let duration):
                        try await Task.sleep(for: duration)
                    }
                }
            }
            defer { group.cancelAll() }
            for try await part in parts {
                try await consume(part)
                consumedInput.yield(())
            }
            // A cancelled caller ends the stream early without an error: that is not the end of the body.
            try Task.checkCancellation()
        }
    }

    /// When the body reader started waiting on the upstream, if it is waiting.
    ///
    /// Threading: any thread (a mutex inside).
    private final class WaitClock: Sendable {
        private let waitingSince = Mutex<ContinuousClock.Instant?>(nil)

        enum Verdict { case expired, sleep(Duration) }

        func startWaiting() { waitingSince.withLock { $0 = .now } }
        func stopWaiting() { waitingSince.withLock { $0 = nil } }

        /// Expired, or how long to sleep before looking again: until the deadline if waiting, else a full timeout
        /// (waiting cannot start and expire within less).
        func check(timeout: Duration) -> Verdict {
            let since = waitingSince.withLock { $0 }
            guard let since else { return .sleep(timeout) }
            let left = since + timeout - .now
            return left <= .zero ? .expired : .sleep(left + .milliseconds(5))
        }
    }
}
