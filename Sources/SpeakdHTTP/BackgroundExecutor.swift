import Foundation
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where the HTTP front door works: one event-loop thread (sockets, TLS, HTTP parsing) and one task-executor thread
/// (routing, the token check, the answers), both at nice 10. A flood of requests then takes only the CPU that the
/// audio path, synthesis, the Unix socket and the upstream client leave over, instead of sharing the cooperative
/// pool with them at their priority; at rest both threads sleep.
///
/// Threading: Sendable; jobs are queued from any thread and run in order on the executor's thread. Lives as long as
/// the process (the thread holds it).
final class BackgroundExecutor: TaskExecutor {
    /// Niceness of both threads: below everything else speakd runs, as the encoder thread.
    static let niceness: Int32 = 10

    private let jobs = Mutex<[UnownedJob]>([])
    private let available = DispatchSemaphore(value: 0)

    init(name: String) {
        let thread = Thread { [self] in
            // On Linux nice() applies to the calling thread only.
            _ = nice(Self.niceness)
            run()
        }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        available.signal()
    }

    private func run() {
        while true {
            available.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// An event-loop group of one thread at the same niceness.
    static func eventLoopGroup() async throws -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await group.next().submit { _ = nice(niceness) }.get()
        return group
    }
}
