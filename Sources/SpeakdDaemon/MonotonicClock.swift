#if canImport(Glibc)
import Glibc
#endif

/// Seconds on CLOCK_MONOTONIC: event timestamps that compare across events and processes on this machine, and do
/// not jump with the wall clock.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
