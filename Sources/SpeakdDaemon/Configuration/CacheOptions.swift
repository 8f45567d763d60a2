/// The phrase cache's settings as the daemon starts with them (`[cache]`, `--cache-dir`, `--no-cache`).
///
/// Threading: a value type; Sendable.
public struct CacheOptions: Sendable, Equatable {
    public var enabled = SettingsTable.cacheEnabled.defaultValue
    /// nil when no default could be found (no `CACHE_DIRECTORY`, `XDG_CACHE_HOME` or `HOME`): the cache is off.
    public var directory: String?
    public var maximumMegabytes = SettingsTable.cacheMaxSizeMB.defaultValue
    /// Segments longer than this many characters are not cached.
    public var maximumTextCharacters = SettingsTable.cacheMaxTextLength.defaultValue
    /// Decoded audio of the most used entries kept in memory.
    public var memoryMegabytes = SettingsTable.cacheMemoryMB.defaultValue

    public init() {}

    /// systemd's `CacheDirectory=` (it sets `$CACHE_DIRECTORY`), else `$XDG_CACHE_HOME/speakd`, else
    /// `~/.cache/speakd`.
    public static func defaultDirectory(environment: [String: String]) -> String? {
        ServiceDirectory.resolve(ServiceDirectory.cache, environment: environment)
    }
}
