/// The formats an announcement can be archived in.
///
/// Threading: a value type; Sendable.
public enum ArchiveFormat: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case mp3, opus, flac, wav

    /// From a format name as a user types it: "mp3", "opus" (or "ogg"), "flac", "wav" (or "wave"); any case.
    public init?(name: String) {
        switch name.lowercased() {
        case "mp3": self = .mp3
        case "opus", "ogg": self = .opus
        case "flac": self = .flac
        case "wav", "wave": self = .wav
        default: return nil
        }
    }

    /// From a file's extension: `.mp3 .opus .ogg .flac .wav`, any case. `nil` when there is none or it is unknown.
    public init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(name: String(path[path.index(after: dot)...]))
    }

    /// The extension files of this format get, without the dot.
    public var fileExtension: String { rawValue }

    public var mimeType: String {
        switch self {
        case .mp3: "audio/mpeg"
        case .opus: "audio/ogg; codecs=opus"
        case .flac: "audio/flac"
        case .wav: "audio/wav"
        }
    }

    public var description: String { rawValue }
}
