#if canImport(Glibc)
import Glibc
#endif

/// Keeps the API key out of core dumps: the daemon holds it in memory, and a crash must not write it to disk.
///
/// Threading: call once, first thing at startup, before the key is read and before other threads exist.
public enum CoreDumps {
    /// Sets the core-file size limit, soft and hard, to 0. The hard limit cannot be raised again without privilege,
    /// so nothing later in the process can undo it. systemd-coredump and apport honour it too (they store no core
    /// for a process whose limit is 0).
    ///
    /// Why not `prctl(PR_SET_DUMPABLE, 0)` as well: it also makes /proc/PID/fd and /proc/PID/status unreadable to the
    /// same user (only root may look), which would blind the user's own diagnostics and the tests that watch the
    /// daemon's descriptors, while a process running as that user can read the key file anyway.
    /// Returns whether the limit is in place.
    @discardableResult
    public static func forbid() -> Bool {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        return setrlimit(Int32(RLIMIT_CORE.rawValue), &none) == 0
    }
}
