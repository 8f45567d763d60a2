#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the daemon learns and keeps across restarts (an upstream's pace, voices' loudness): small files in the state
/// directory, replaced whole.
///
/// Threading: stateless; callers serialise writes to one path.
enum StateFile {
    /// Where they live: `$SPEAKD_STATE_DIR`, else `$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/speakd`, else
    /// `~/.local/state/speakd`; nil when none can be found.
    static func directory() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let override = environment["SPEAKD_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        return override ?? ServiceDirectory.resolve(ServiceDirectory.state, environment: environment)
    }

    /// Writes `data` to a temporary file beside `path` and renames it over `path`, creating the directory: a reader
    /// (or a crash) sees the old file or the new one, never half of one. Failures are ignored: what is learned is
    /// learned again.
    static func replace(_ path: String, with data: Data) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        _ = rename(temporary, path)
    }
}
