import SpeakdCore

/// Decodes whatever audio an OpenAI-compatible server answers, chosen from its Content-Type, its other headers and
/// its first bytes: raw PCM in either byte order, WAV, MP3, Ogg Opus or FLAC, to interleaved s16 at the source's
/// own rate and channel count. Anything that is not audio (JSON, HTML, text) is refused, naming what it was.
///
/// Choosing: a container's magic number wins over any label (`RIFF`, `ID3`, `OggS`, `fLaC`; a bare MPEG frame sync
/// is not one, since two such bytes are common in PCM); then an explicit container label (`audio/mpeg`,
/// `audio/ogg`, `audio/opus`, `audio/flac`, `audio/wav`) is believed; else raw PCM with rate and channels from the
/// label (`AudioLabel`), the configured overrides, or 24 kHz mono.
/// Containers carry their own format, which wins over labels and overrides.
///
/// The output is the same whatever the chunking of the input.
///
/// Threading: not thread-safe; one instance per response body, used by one task at a time.
public final class UpstreamAudioDecoder {
    public let label: AudioLabel
    private let rawFormat: PCMFormat
    private var head: [UInt8] = []
    private var inner: (any AudioStreamDecoder)?
    /// What the body turned out to be: "raw PCM (s16le …)", "WAV", "MP3", "Ogg Opus", "FLAC".
    public private(set) var kind: String?
    public private(set) var samplesDecoded = 0

    /// Bytes looked at before settling on raw PCM: the containers' magic numbers take 4, and text is recognised
    /// only when all of the first 16 bytes are printable and open like JSON or markup (a one-byte test misread
    /// real audio whose first sample happened to be "{").
    static let sniffLength = 16

    /// - Parameters:
    ///   - sampleRateOverride, channelsOverride: the upstream's configured values for raw PCM (they beat labels).
    public init(label: AudioLabel, sampleRateOverride: Int? = nil, channelsOverride: Int? = nil) {
        self.label = label
        rawFormat = PCMFormat(sampleRate: sampleRateOverride ?? label.sampleRate ?? PCMFormat.openAISpeech.sampleRate,
                              channels: channelsOverride ?? label.channels ?? 1)
    }

    /// The format of the samples returned last (before any: what raw PCM would be played as).
    public var format: PCMFormat { inner?.format ?? rawFormat }

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        if let inner { return counted(try inner.push(bytes)) }
        head.append(contentsOf: bytes)
        guard let chosen = try choose(final: false) else { return [] }
        return try feed(chosen)
    }

    public func push(_ bytes: [UInt8]) throws(AudioDecodingError) -> [DecodedPCM] {
        try withBytes(bytes) { raw throws(AudioDecodingError) in try push(raw) }
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        var runs: [DecodedPCM] = []
        if inner == nil {
            guard !head.isEmpty, let chosen = try choose(final: true) else { return [] }
            runs = try feed(chosen)
        }
        guard let inner else { return runs }
        return runs + counted(try inner.finish())
    }

    private func feed(_ chosen: any AudioStreamDecoder) throws(AudioDecodingError) -> [DecodedPCM] {
        inner = chosen
        let bytes = head
        head = []
        return counted(try withBytes(bytes) { raw throws(AudioDecodingError) in try chosen.push(raw) })
    }

    private func counted(_ runs: [DecodedPCM]) -> [DecodedPCM] {
        for run in runs { samplesDecoded += run.samples.count }
        return runs
    }

    /// The decoder for what `head` holds, or nil to wait for more bytes (never nil when `final`).
    private func choose(final: Bool) throws(AudioDecodingError) -> (any AudioStreamDecoder)? {
        if let magic = Self.magic(head) {
            return try make(magic)
        }
        // Too short to rule a magic number out yet.
        if !final, head.count < 4, Self.magics.contains(where: { $0.value.starts(with: head) }) { return nil }
        switch label.container {
        case .mp3, .ogg, .flac, .wav:
            // An explicit container label is believed (libmpg123 finds the first frame after junk; the others say
            // plainly what is wrong), unless the body is text.
            if !final, head.count < Self.sniffLength, !Self.hasFrameSync(head) { return nil }
            if Self.looksLikeText(head) {
                throw AudioDecodingError("text instead of audio under \(describedType): \(Self.snippet(head))")
            }
            let magic: Magic = switch label.container { case .mp3: .mp3; case .ogg: .ogg; case .flac: .flac; default: .wav }
            return try make(magic)
        case .raw, .otherAudio, .notAudio:
            if !final, head.count < Self.sniffLength { return nil }
            if label.container == .notAudio || label.container == .otherAudio {
                throw AudioDecodingError("\(describedType) is not audio speakd can decode"
                                         + (Self.looksLikeText(head) ? " (\(Self.snippet(head)))" : ""))
            }
            return try rawUnlessText()
        }
    }

    private func rawUnlessText() throws(AudioDecodingError) -> any AudioStreamDecoder {
        if Self.looksLikeText(head) {
            throw AudioDecodingError("text instead of audio under \(describedType): \(Self.snippet(head))")
        }
        if case .raw(let bigEndian) = label.container {
            kind = "raw PCM (s16\(bigEndian ? "be" : "le"))"
            return RawPCMDecoder(format: rawFormat, bigEndian: bigEndian)
        }
        kind = "raw PCM (s16le)"
        return RawPCMDecoder(format: rawFormat)
    }

    private var describedType: String {
        label.mediaType.isEmpty ? "a body without Content-Type" : "Content-Type \(label.mediaType)"
    }

    enum Magic: CaseIterable { case wav, mp3, ogg, flac }

    private func make(_ magic: Magic) throws(AudioDecodingError) -> any AudioStreamDecoder {
        switch magic {
        case .wav: kind = "WAV"; return WAVStreamDecoder()
        case .mp3: kind = "MP3"; return try MP3StreamDecoder()
        case .ogg: kind = "Ogg Opus"; return OggOpusStreamDecoder()
        case .flac: kind = "FLAC"; return try FLACStreamDecoder()
        }
    }

    static let magics: [Magic: [UInt8]] = [.wav: Array("RIFF".utf8), .mp3: Array("ID3".utf8), .ogg: Array("OggS".utf8),
                                           .flac: Array("fLaC".utf8)]

    static func magic(_ bytes: [UInt8]) -> Magic? {
        magics.first { bytes.starts(with: $0.value) }?.key
    }

    /// An MPEG audio frame header: 11 sync bits, a valid version, layer III/II/I, a bit rate index that is not "bad".
    static func hasFrameSync(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 3, bytes[0] == 0xFF, bytes[1] & 0xE0 == 0xE0 else { return false }
        return bytes[1] & 0x18 != 0x08 && bytes[1] & 0x06 != 0 && bytes[2] & 0xF0 != 0xF0
    }

    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        let head = bytes.prefix(sniffLength)
        let printable = head.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let opening = head.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        guard printable, let opening else { return false }
        return head.count == sniffLength && [UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "<")].contains(opening)
    }

    static func snippet(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return "\"" + text.filter { !$0.isNewline } + (bytes.count > 80 ? "…\"" : "\"")
    }
}
