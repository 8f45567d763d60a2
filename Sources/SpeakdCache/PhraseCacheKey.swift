import SpeakdSynthesis

/// The content address of one synthesized segment: a SHA-256 over everything that shapes its audio.
///
/// The upstream is identified by its base URL (never its key: the key does not change the voice, and must not reach
/// the disk), plus the sample-rate and channel overrides configured for it. Fields are length-prefixed, so no two different
/// requests can share an encoding ("ab"+"c" vs "a"+"bc"). The version prefix retires every old entry at once if
/// the scheme changes.
///
/// Threading: a value type; Sendable.
public struct PhraseCacheKey: Hashable, Sendable, CustomStringConvertible {
    /// 64 lower-case hex digits.
    public let digest: String

    /// - Parameter channelsOverride: keyed only when set, so entries stored before it existed keep their keys.
    public init(upstream: String, sampleRateOverride: Int?, channelsOverride: Int? = nil, request: SynthesisRequest) {
        var encoded: [UInt8] = Array("speakd-phrase-v1".utf8)
        func field(_ name: String, _ value: String?) {
            let bytes = Array((value ?? "\u{0}none").utf8)
            encoded += Array("\n\(name) \(bytes.count) ".utf8) + bytes
        }
        field("upstream", upstream)
        field("rate", sampleRateOverride.map(String.init))
        if let channelsOverride { field("channels", String(channelsOverride)) }
        field("model", request.model)
        field("voice", request.voice)
        field("speed", request.speed.map { "\($0)" })
        field("instructions", request.instructions)
        field("input", request.input)
        digest = SHA256.hex(encoded)
    }

    /// A key read back from a file name or tag, if it is one.
    public init?(digest: String) {
        guard digest.utf8.count == 64, digest.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return nil
        }
        self.digest = digest
    }

    public var description: String { String(digest.prefix(12)) }
}
