/// Where a daemon keeps a kind of data by default: the directory systemd made for the service, else the XDG base
/// directory, else its default under the home directory. Only absolute paths count (as the XDG specification says).
///
/// Threading: stateless; pure functions of the environment given.
enum ServiceDirectory {
    /// The phrase cache: `$CACHE_DIRECTORY`, `$XDG_CACHE_HOME/speakd`, `~/.cache/speakd`.
    static let cache = (systemd: "CACHE_DIRECTORY", xdg: "XDG_CACHE_HOME", home: ".cache")
    /// What speakd learns of its upstreams: `$STATE_DIRECTORY`, `$XDG_STATE_HOME/speakd`, `~/.local/state/speakd`.
    static let state = (systemd: "STATE_DIRECTORY", xdg: "XDG_STATE_HOME", home: ".local/state")

    static func resolve(_ kind: (systemd: String, xdg: String, home: String), environment: [String: String]) -> String? {
        if let systemd = environment[kind.systemd]?.split(separator: ":").first, systemd.hasPrefix("/") {
            return String(systemd)
        }
        if let xdg = environment[kind.xdg], xdg.hasPrefix("/") { return xdg + "/speakd" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/" + kind.home + "/speakd" }
        return nil
    }
}
