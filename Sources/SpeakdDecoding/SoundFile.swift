import CSndfile
import SpeakdCore

/// A whole sound file read into 16-bit samples with libsndfile (WAV, FLAC, Ogg Vorbis and Opus, AIFF, …): what
/// chimes are made of. Files only, not streams: upstream answers go through `UpstreamAudioDecoder`.
///
/// Threading: a value type; `read` is a pure function of the file (call it off the audio thread: it allocates).
public struct SoundFile: Sendable, Equatable {
    public var format: PCMFormat
    /// Interleaved samples.
    public var samples: [Int16]

    public init(format: PCMFormat, samples: [Int16]) {
        self.format = format
        self.samples = samples
    }

    /// The longest sound read (a chime, not an album): 30 s at 48 kHz stereo.
    public static let maximumSamples = 30 * 48_000 * 2

    /// Reads `path`. Throws `AudioDecodingError` naming the file and libsndfile's reason.
    public static func read(path: String) throws(AudioDecodingError) -> SoundFile {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            let reason = String(cString: sf_strerror(nil))
            throw AudioDecodingError("cannot read the sound file \(path): \(reason)")
        }
        defer { sf_close(file) }
        let channels = Int(info.channels)
        let rate = Int(info.samplerate)
        guard (1...2).contains(channels) else {
            throw AudioDecodingError("the sound file \(path) has \(channels) channels (1 or 2 are played)")
        }
        guard PCMFormat.plausibleRates.contains(rate) else {
            throw AudioDecodingError("the sound file \(path) is at \(rate) Hz")
        }
        let total = Int(info.frames) * channels
        guard total > 0 else { throw AudioDecodingError("the sound file \(path) holds no audio") }
        guard total <= maximumSamples else {
            throw AudioDecodingError("the sound file \(path) lasts \(Int(info.frames) / rate) s; a chime may last 30 s")
        }
        var samples = [Int16](repeating: 0, count: total)
        let read = samples.withUnsafeMutableBufferPointer { buffer in
            sf_read_short(file, buffer.baseAddress, sf_count_t(total))
        }
        let whole = max(Int(read), 0) / channels * channels
        samples.removeLast(total - whole)
        guard !samples.isEmpty else { throw AudioDecodingError("the sound file \(path) could not be decoded") }
        return SoundFile(format: PCMFormat(sampleRate: rate, channels: channels), samples: samples)
    }
}
