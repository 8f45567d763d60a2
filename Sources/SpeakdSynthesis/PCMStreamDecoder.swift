import SpeakdAudio

/// Turns an upstream's `pcm` body, arriving in arbitrary chunks, into whole samples.
///
/// - A chunk may end in the middle of a sample (odd byte counts): the stray byte is carried into the next chunk, so
///   nothing is lost or shifted.
/// - Some servers put a RIFF/WAVE header in front of "pcm" (or stream WAV with 0xFFFFFFFF sizes): it is detected,
///   its `fmt ` chunk read for the rate and channel count, and stripped.
/// - Other containers (MP3, Ogg, FLAC) are recognised and refused with a message naming what arrived.
///
/// Threading: a value type; one instance per response, used by one task.
public struct PCMStreamDecoder {
    public private(set) var format: PCMFormat
    private var header: [UInt8] = []
    private var sniffed = false
    private var carry: UInt8?
    public private(set) var samplesDecoded = 0

    /// - Parameter format: what the response declared (Content-Type `rate=`, or the contract's 24 kHz mono).
    public init(format: PCMFormat) {
        self.format = format
    }

    /// Decodes a chunk; returns the complete samples in it (possibly none).
    public mutating func decode(_ bytes: some Collection<UInt8>) throws(SynthesisError) -> [Int16] {
        if !sniffed {
            header.append(contentsOf: bytes)
            guard let body = try sniff() else { return [] }
            return samples(from: body)
        }
        return samples(from: bytes)
    }

    /// Call at the end of the body; returns samples still held back (a body shorter than a header sniff).
    /// A leftover half sample means the body was cut inside a sample.
    public mutating func finish() throws(SynthesisError) -> [Int16] {
        var rest: [Int16] = []
        if !sniffed && !header.isEmpty {
            if header.starts(with: Array("RIFF".utf8)) {
                throw SynthesisError(.badAudio, "the upstream's WAV header ended before its data")
            }
            // Shorter than a signature: take the bytes as samples.
            sniffed = true
            let pending = header
            header = []
            rest = samples(from: pending)
        }
        if carry != nil {
            throw SynthesisError(.badAudio, "the upstream's audio ended in the middle of a sample (odd byte count)")
        }
        return rest
    }

    /// Looks at the first bytes. Returns the bytes to treat as samples once a decision is made, nil to wait for more.
    private mutating func sniff() throws(SynthesisError) -> [UInt8]? {
        if header.starts(with: Array("RIFF".utf8)) {
            guard header.count >= 12 else { return nil }
            guard header[8..<12].elementsEqual("WAVE".utf8) else {
                throw SynthesisError(.badAudio, "the upstream sent a RIFF file that is not WAVE audio")
            }
            return try parseWAVHeader()
        }
        guard header.count >= Self.sniffLength else { return nil }
        if let container = Self.container(of: header) {
            throw SynthesisError(.badAudio, "the upstream sent \(container) although raw pcm was requested; check that the server supports response_format \"pcm\"")
        }
        sniffed = true
        defer { header = [] }
        return header
    }

    /// Bytes looked at before deciding. Only signatures that random PCM practically never starts with count: the
    /// containers' magic numbers (3–4 bytes), and text only when every one of the first 16 bytes is printable and
    /// it opens like JSON or markup (a one-byte test misread real audio whose first sample happened to be "{").
    /// A raw MP3 frame sync is two bytes, common in PCM: that case is caught by the Content-Type instead.
    static let sniffLength = 16

    static func container(of bytes: [UInt8]) -> String? {
        if bytes.starts(with: Array("ID3".utf8)) { return "MP3 audio" }
        if bytes.starts(with: Array("OggS".utf8)) { return "Ogg audio (Opus or Vorbis)" }
        if bytes.starts(with: Array("fLaC".utf8)) { return "FLAC audio" }
        let head = bytes.prefix(sniffLength)
        let printable = head.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let opening = head.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        if head.count == sniffLength, printable, let opening, [UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "<")].contains(opening) {
            return "text (\(String(decoding: bytes.prefix(60), as: UTF8.self))…)"
        }
        return nil
    }

    /// Walks RIFF chunks up to `data`; returns what follows the `data` header, or nil while incomplete.
    private mutating func parseWAVHeader() throws(SynthesisError) -> [UInt8]? {
        var offset = 12
        var sawFormat = false
        while header.count >= offset + 8 {
            let id = String(decoding: header[offset..<offset + 4], as: UTF8.self)
            let size = Int(header[offset + 4]) | Int(header[offset + 5]) << 8 | Int(header[offset + 6]) << 16 | Int(header[offset + 7]) << 24
            let body = offset + 8
            if id == "data" {
                guard sawFormat else { throw SynthesisError(.badAudio, "the upstream's WAV has no fmt chunk before its data") }
                sniffed = true
                defer { header = [] }
                return Array(header[body...])
            }
            guard size < 1 << 20 else { throw SynthesisError(.badAudio, "the upstream's WAV header is corrupt (chunk \(id) of \(size) bytes)") }
            guard header.count >= body + size + (size & 1) else { return nil }
            if id == "fmt " {
                guard size >= 16 else { throw SynthesisError(.badAudio, "the upstream's WAV fmt chunk is too short") }
                let tag = Int(header[body]) | Int(header[body + 1]) << 8
                let channels = Int(header[body + 2]) | Int(header[body + 3]) << 8
                let rate = Int(header[body + 4]) | Int(header[body + 5]) << 8 | Int(header[body + 6]) << 16 | Int(header[body + 7]) << 24
                let bits = Int(header[body + 14]) | Int(header[body + 15]) << 8
                // 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (PCM subformat in practice).
                guard (tag == 1 || tag == 0xFFFE), bits == 16 else {
                    throw SynthesisError(.badAudio, "the upstream sent WAV audio that is not 16-bit PCM (format \(tag), \(bits) bits)")
                }
                guard (1...8).contains(channels), PCMFormat.plausibleRates.contains(rate) else {
                    throw SynthesisError(.badAudio, "the upstream's WAV header says \(rate) Hz, \(channels) channels: not plausible")
                }
                format = PCMFormat(sampleRate: rate, channels: channels)
                sawFormat = true
            }
            offset = body + size + (size & 1)
        }
        return nil
    }

    private mutating func samples(from bytes: some Collection<UInt8>) -> [Int16] {
        var result: [Int16] = []
        result.reserveCapacity((bytes.count + 1) / 2)
        var iterator = bytes.makeIterator()
        if let low = carry {
            guard let high = iterator.next() else { return [] }
            result.append(Int16(bitPattern: UInt16(low) | UInt16(high) << 8))
            carry = nil
        }
        while let low = iterator.next() {
            guard let high = iterator.next() else { carry = low; break }
            result.append(Int16(bitPattern: UInt16(low) | UInt16(high) << 8))
        }
        samplesDecoded += result.count
        return result
    }
}
