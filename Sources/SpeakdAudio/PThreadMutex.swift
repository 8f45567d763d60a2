#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex. Used on the control side of the player instead of `Synchronization.Mutex`,
/// which on Linux is a raw futex that ThreadSanitizer cannot see: its accesses are reported as races, and a real
/// race would be lost among them. Never used on the audio thread.
///
/// Threading: Sendable; `withLock` from any thread. Not re-entrant.
package final class PThreadMutex<Value: ~Copyable>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init(_ value: consuming Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
