import SpeakdCore

/// Raw 16-bit PCM in either byte order (`audio/L16` is big-endian by RFC 2586; everything else little-endian).
///
/// Bytes that do not complete a frame are carried into the next push, so a chunk ending mid-sample or between
/// the channels of a frame loses or shifts nothing.
///
/// Threading: see `AudioStreamDecoder`.
public final class RawPCMDecoder: AudioStreamDecoder {
    public private(set) var format: PCMFormat?
    private let pcmFormat: PCMFormat
    private let bigEndian: Bool
    private var carry: [UInt8] = []

    public init(format: PCMFormat, bigEndian: Bool = false) {
        self.pcmFormat = format
        self.format = format
        self.bigEndian = bigEndian
    }

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        let frameBytes = pcmFormat.bytesPerFrame
        let total = carry.count + bytes.count
        let usable = total - total % frameBytes
        guard usable > 0 else {
            carry.append(contentsOf: bytes)
            return []
        }
        var samples = [Int16](repeating: 0, count: usable / 2)
        samples.withUnsafeMutableBytes { out in
            let fromCarry = carry.count
            carry.withUnsafeBytes { out.copyMemory(from: $0) }
            let fromBytes = usable - fromCarry
            if fromBytes > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[fromCarry...])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<fromBytes]))
            }
            carry = Array(bytes[fromBytes...])
        }
        // Samples were copied as stored; swap when that is not this machine's order (little-endian on every Linux
        // target speakd builds for).
        if bigEndian { for index in samples.indices { samples[index] = Int16(bigEndian: samples[index]) } }
        return [DecodedPCM(format: pcmFormat, samples: samples)]
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        guard carry.isEmpty else {
            throw AudioDecodingError("the audio ended in the middle of a frame (\(carry.count) stray bytes of \(pcmFormat.bytesPerFrame))")
        }
        return []
    }
}
