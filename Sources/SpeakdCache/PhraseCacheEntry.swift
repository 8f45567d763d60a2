import SpeakdEncoding

/// Reads one cache file's bytes back: its audio when the file is intact FLAC (frame CRCs and STREAMINFO's MD5
/// checked by `FLACDecoder`) carrying `digest` as its `SPEAKD_KEY`; otherwise an error saying what is wrong, and
/// the cache removes the file and reports a miss. Apart from `PhraseCache` so that the fuzzer (Fuzz/Targets/
/// cache-entry.swift) runs exactly this check.
///
/// Threading: stateless; call from any thread.
enum PhraseCacheEntry {
    static func decode(_ bytes: [UInt8], expectingDigest digest: String) throws -> DecodedFLAC {
        let decoded = try FLACDecoder.decode(bytes)
        guard decoded.tags["SPEAKD_KEY"] == digest else {
            throw PhraseCacheError("the file belongs to another key (\(decoded.tags["SPEAKD_KEY"] ?? "none"))")
        }
        return decoded
    }
}

/// A cache problem in words for the log.
///
/// Threading: a value type; Sendable.
public struct PhraseCacheError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
