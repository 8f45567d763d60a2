import SpeakdEncoding

/// The daemon-side archive's settings (`[archive]`, `--archive-dir` …; see `SettingsResolver`).
///
/// Threading: a value type; Sendable.
public struct ArchiveOptions: Sendable, Equatable {
    /// Where finished jobs are archived; nil: no archive (jobs asking for one are still refused nothing, they
    /// just get an `archive` `failed` event saying none is configured).
    public var directory: String?
    public var format: ArchiveFormat = .opus
    /// The file name without extension; `{date}` (YYYY-MM-DD), `{time}` (HHMMSS), `{job}` (the job id) and
    /// `{slug}` (the text's first words, lowercase ASCII) are replaced.
    public var namePattern = ArchiveOptions.defaultNamePattern
    public var settings = EncoderSettings()

    public init() {}

    public static let defaultNamePattern = "{date}-{time}-{job}-{slug}"
    public static let placeholders = ["{date}", "{time}", "{job}", "{slug}"]
}
