#if canImport(Glibc)
import Glibc
#endif

/// Where the daemon listens and clients connect: `--socket`, else `$SPEAKD_SOCKET`, else
/// `$XDG_RUNTIME_DIR/speakd.sock` (user instance), else `/run/speakd/speakd.sock` (system instance).
public enum SocketPath {
    public static let systemPath = "/run/speakd/speakd.sock"

    public static func resolve(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment["SPEAKD_SOCKET"], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/speakd.sock" }
        return systemPath
    }

    /// Whether the path is the system instance's (group-accessible) rather than a user's (owner only).
    public static func isSystemInstance(_ path: String) -> Bool { path.hasPrefix("/run/speakd/") }
}

/// The process environment as a dictionary.
public func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}
