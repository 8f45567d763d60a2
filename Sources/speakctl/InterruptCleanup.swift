#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (or SIGTERM, SIGHUP) while `--save` is writing: the temporary next to the target is removed before
/// speakctl exits, so an interrupted save leaves nothing behind, like a failed one.
///
/// Threading: `arm` and `disarm` on speakctl's one thread; the handler runs in signal context and only calls
/// `unlink` and `_exit`, which are async-signal-safe, on a path copied beforehand.
enum InterruptCleanup {
    /// The temporary's path as a C string, owned here; nil when nothing is to be removed.
    nonisolated(unsafe) private static var pendingPath: UnsafeMutablePointer<CChar>?

    static func arm(removing path: String) {
        disarm()
        pendingPath = strdup(path)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                if let path = InterruptCleanup.pendingPath { unlink(path) }
                _exit(128 + number)
            }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }

    /// The file was committed or discarded: a signal from now on removes nothing.
    static func disarm() {
        let path = pendingPath
        pendingPath = nil
        free(path)
    }
}
