import Dispatch
import SpeakdSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The one thread every encoder runs on: a plain pthread at nice 10, so encoding (the opus encoder at complexity 10
/// costs a few milliseconds per second of speech) yields the CPU to the audio path, the event loops and the
/// synthesis tasks on a small machine. Work runs in submission order, so each job's encoder calls stay in order and
/// an abandoned attempt's last calls run before the next attempt's first. Idle, it sleeps on a semaphore: no
/// wake-ups.
///
/// Why not a dispatch queue: libdispatch on Linux does not lower its worker threads' priority for low QoS, and
/// renicing a pool thread would stay with it (an unprivileged process cannot raise a nice value back), slowing
/// whatever the pool runs next (espeak-ng's queue among them).
///
/// Threading: Sendable; `async` and `drain` may be called from any thread. Lives as long as the process (the thread
/// holds it).
final class EncoderThread: Sendable {
    private let work = Mutex<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)

    /// Niceness of the thread: below everything else speakd runs.
    static let niceness: Int32 = 10

    /// Throws when the thread cannot start (the caller reports it; the daemon goes on without encoders).
    static func start() throws(ThreadStartError) -> EncoderThread {
        let made = EncoderThread()
        try Threads.start(name: "speakd-encode") {
            // On Linux nice() applies to the calling thread only.
            _ = nice(EncoderThread.niceness)
            made.run()
        }
        return made
    }

    private init() {}

    /// Queues `block`; it runs after everything queued before it.
    func async(_ block: @escaping @Sendable () -> Void) {
        work.withLock { $0.append(block) }
        available.signal()
    }

    /// Returns once everything queued so far has run (for tests and shutdown).
    func drain() {
        let done = DispatchSemaphore(value: 0)
        async { done.signal() }
        done.wait()
    }

    private func run() {
        while true {
            available.wait()
            let block = work.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            block?()
        }
    }
}
