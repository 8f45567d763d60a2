#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What an archived announcement says about itself: written as ID3v2.4 frames in mp3 and as Vorbis comments in
/// Ogg Opus and FLAC. WAV carries no tags.
///
/// Threading: a value type; Sendable.
public struct Tags: Sendable, Hashable {
    /// The spoken text; only its first `textLimit` characters are stored (a title, not a transcript).
    public var text: String?
    public var voice: String?
    public var model: String?
    /// "openai", "espeak-ng", … : what synthesized the audio.
    public var engine: String?
    public var date: Date?
    /// Further Vorbis comment fields (upper-case names), written after the standard ones in name order: the phrase
    /// cache records its key here.
    public var extra: [String: String] = [:]

    public static let textLimit = 200

    public init(text: String? = nil, voice: String? = nil, model: String? = nil, engine: String? = nil,
                date: Date? = nil) {
        self.text = text
        self.voice = voice
        self.model = model
        self.engine = engine
        self.date = date
    }

    /// The tags as (field, value) pairs in the Vorbis comment vocabulary, empty values left out. TITLE and DATE are
    /// the standard fields players show; VOICE, MODEL and ENGINE are ours. The ID3v2 writer maps the same pairs.
    public var fields: [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        func add(_ name: String, _ value: String?) {
            // A NUL would cut the value short in every C API below (and end an ID3v2 TXXX description).
            if let value = value?.filter({ $0 != "\0" }), !value.isEmpty { result.append((name, value)) }
        }
        add("TITLE", text.map { String($0.prefix(Self.textLimit)) })
        add("VOICE", voice)
        add("MODEL", model)
        add("ENGINE", engine)
        // ISO 8601 in UTC: what both Vorbis DATE and ID3v2.4 TDRC accept.
        add("DATE", date?.formatted(.iso8601))
        for name in extra.keys.sorted() { add(name, extra[name]) }
        return result
    }
}
