import SpeakdCore

/// One archive being encoded: open it (each format's initializer, or `ArchiveFormat.makeEncoder`), feed it s16le
/// PCM with `encode`, end it with `finish`.
///
/// Threading: an encoder instance is used by one thread or task at a time (it is not Sendable and not
/// synchronized); hand it over whole if it must move. Separate instances are independent and may run in parallel.
/// Every call may block on its sink's writes, so run encoders off latency-sensitive threads (never on the audio
/// thread or an event loop).
///
/// Errors: every method throws `EncoderError`. After an error, or after `finish`, further calls throw `.misuse`;
/// the output is then incomplete and should be discarded (`AtomicFile.discard`).
public protocol AudioEncoder: AnyObject {
    /// The format this encoder writes.
    var format: ArchiveFormat { get }
    /// The PCM it accepts: what it was opened with.
    var input: PCMFormat { get }

    /// Encodes interleaved samples (`input.channels` per frame): any number of whole frames, zero included, so any
    /// count at all for mono. Chunks need not line up with the codec's frames. Same thread contract as the type.
    func encode(_ samples: UnsafeBufferPointer<Int16>) throws(EncoderError)

    /// Flushes the encoder, writes what only the end of the stream can tell (sizes, sample counts, checksums, the
    /// Xing/LAME frame) and leaves the sink complete. It does not close or sync the sink. Same thread contract.
    func finish() throws(EncoderError)
}

extension AudioEncoder {
    /// `encode` for an array. Same thread contract as the type.
    public func encode(_ samples: [Int16]) throws(EncoderError) {
        try samples.withUnsafeBufferPointer { (buffer) throws(EncoderError) in try encode(buffer) }
    }
}

extension ArchiveFormat {
    /// Opens an encoder of this format writing to `sink`. Inputs are s16le, mono or stereo, at any rate the format
    /// can carry: mp3 at MPEG-1/2/2.5 rates (8–48 kHz, kept as is), opus at any rate (libopusenc resamples and
    /// records the input rate), flac and wav at any rate.
    ///
    /// Threading: callable from any thread; the encoder returned follows `AudioEncoder`'s contract.
    public func makeEncoder(input: PCMFormat, settings: EncoderSettings = EncoderSettings(), tags: Tags = Tags(),
                            sink: any EncodedSink) throws(EncoderError) -> any AudioEncoder {
        switch self {
        case .mp3: try MP3Encoder(input: input, settings: settings.mp3, tags: tags, sink: sink)
        case .opus: try OggOpusEncoder(input: input, settings: settings.opus, tags: tags, sink: sink)
        case .flac: try FLACEncoder(input: input, settings: settings.flac, tags: tags, sink: sink)
        case .wav: try WAVEncoder(input: input, sink: sink)
        }
    }
}

/// The shared checks of the encoders: channel count and plausible rate.
func validate(_ input: PCMFormat, for format: ArchiveFormat) throws(EncoderError) {
    guard (1...2).contains(input.channels) else {
        throw EncoderError(.invalidSettings, "\(format) archives take mono or stereo PCM, not \(input.channels) channels")
    }
    guard PCMFormat.plausibleRates.contains(input.sampleRate) else {
        throw EncoderError(.invalidSettings, "\(format) cannot encode PCM at \(input.sampleRate) Hz")
    }
}

/// Refuses a chunk that ends inside a stereo frame (the encoders keep no half frames).
func checkWholeFrames(_ count: Int, _ input: PCMFormat) throws(EncoderError) {
    guard count % input.channels == 0 else {
        throw EncoderError(.misuse, "\(count) samples are not whole frames of \(input.channels) channels")
    }
}
