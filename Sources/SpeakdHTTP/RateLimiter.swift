import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A token bucket per client address: `rate` requests a second on average, `burst` at once. Buckets of clients
/// silent long enough to be full again are dropped, so the table stays as large as the clients active now.
///
/// Threading: Sendable; a mutex guards the table (held for a dictionary lookup, never across I/O).
public final class RateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var updated: Double }
    private let rate: Double
    private let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    private let clock: @Sendable () -> Double

    public init(requestsPerSecond rate: Double, burst: Int, clock: @escaping @Sendable () -> Double = RateLimiter.now) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
        self.clock = clock
    }

    /// Takes one request's token for `client`: nil when allowed, else the seconds until one is available.
    public func take(_ client: String) -> Double? {
        let now = clock()
        return buckets.withLock { table in
            if table.count > 10_000 { table = table.filter { now - $0.value.updated < burst / rate } }
            var bucket = table[client] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            defer { table[client] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }

    @Sendable public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
