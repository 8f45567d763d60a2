import SpeakdCore

/// WAV (RIFF, PCM s16le) written by hand: a 44-byte header, then the samples as they are.
///
/// The header's two sizes are known only at the end. On a seekable sink they are patched in `finish`. On a sink that
/// cannot seek (a pipe, a socket) the header says 0xFFFFFFFF for both, the streaming convention ffmpeg, sox and most
/// players read as "until the end of the file"; a reader that trusts the sizes literally should be given a file.
///
/// Threading: see `AudioEncoder` (one thread or task at a time).
public final class WAVEncoder: AudioEncoder {
    public let input: PCMFormat
    public var format: ArchiveFormat { .wav }
    private let sink: any EncodedSink
    private let headerOffset: Int
    private var dataBytes = 0
    private var finished = false

    /// RIFF sizes are 32-bit: 4 GiB minus the header, 12 hours of 48 kHz stereo.
    static let maximumDataBytes = Int(UInt32.max) - 36

    public init(input: PCMFormat, sink: any EncodedSink) throws(EncoderError) {
        try validate(input, for: .wav)
        self.input = input
        self.sink = sink
        self.headerOffset = sink.offset
        let unknown = UInt32.max
        try sink.write(Self.header(input, dataBytes: sink.isSeekable ? 0 : unknown,
                                   riffBytes: sink.isSeekable ? 36 : unknown))
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(EncoderError) {
        guard !finished else { throw EncoderError(.misuse, "WAV encoder used after finish") }
        try checkWholeFrames(samples.count, input)
        guard dataBytes + samples.count * 2 <= Self.maximumDataBytes else {
            throw EncoderError(.invalidSettings, "WAV cannot hold more than 4 GiB of samples")
        }
        #if _endian(big)
        try sink.write(samples.map { $0.littleEndian }.withUnsafeBytes { Array($0) })
        #else
        try sink.write(UnsafeRawBufferPointer(samples))
        #endif
        dataBytes += samples.count * 2
    }

    public func finish() throws(EncoderError) {
        guard !finished else { throw EncoderError(.misuse, "WAV encoder finished twice") }
        finished = true
        if sink.isSeekable {
            try sink.patch(Self.header(input, dataBytes: UInt32(dataBytes), riffBytes: UInt32(36 + dataBytes)),
                           at: headerOffset)
        }
        try sink.flush()
    }

    static func header(_ input: PCMFormat, dataBytes: UInt32, riffBytes: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(44)
        func ascii(_ text: String) { bytes.append(contentsOf: text.utf8) }
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        let blockAlign = UInt16(input.bytesPerFrame)
        ascii("RIFF"); u32(riffBytes); ascii("WAVE")
        ascii("fmt "); u32(16)
        u16(1)                                        // WAVE_FORMAT_PCM
        u16(UInt16(input.channels))
        u32(UInt32(input.sampleRate))
        u32(UInt32(input.sampleRate) * UInt32(blockAlign))  // bytes per second
        u16(blockAlign)
        u16(16)                                       // bits per sample
        ascii("data"); u32(dataBytes)
        return bytes
    }
}
