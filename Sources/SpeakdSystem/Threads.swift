#if canImport(Glibc)
import Glibc
#endif

/// A thread that could not be started (`pthread_create` refused: EAGAIN when the process or the system is at its
/// thread limit). The one error for it everywhere in speakd: the caller reports it; nothing traps.
///
/// Threading: a value type; Sendable.
public struct ThreadStartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which thread (its name, e.g. "speakd-audio").
    public var thread: String
    public var errno: Errno

    public init(thread: String, errno: Errno) {
        self.thread = thread
        self.errno = errno
    }

    public var description: String { "cannot start the thread \(thread): \(errno.message)" }
}

/// Plain pthreads for the few threads speakd runs outside Swift's concurrency pool (the audio thread, the encoder
/// thread, the speech-dispatcher module's readers): a blocking loop there would tie up the cooperative pool.
///
/// Threading: `start` from any thread; `body` runs on the new thread.
public enum Threads {
    /// Starts a thread running `body`. `detached` threads release their resources when `body` returns; else the
    /// caller joins the returned handle.
    @discardableResult
    public static func start(name: String, detached: Bool = true,
                             _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) -> pthread_t {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        do {
            try Syscall.checked("pthread_create") {
                pthread_create(&thread, nil, { raw in
                    Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                    return nil
                }, context)
            }
        } catch {
            Unmanaged<Box>.fromOpaque(context).release()
            throw ThreadStartError(thread: name, errno: error)
        }
        if detached { pthread_detach(thread) }
        return thread
    }
}
