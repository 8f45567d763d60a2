import Foundation
import SpeakdCore
import SpeakdDecoding
import SpeakdProcessing
import Synchronization

/// Chimes: a short sound before an announcement (and, if asked, after it), named (`ding`, `dong`: written by this
/// project, synthesized here, no third-party audio) or read from a file (WAV, FLAC, Ogg; libsndfile). A chime is
/// converted to the format the speech is expected in (so the device is not reopened between them) and, when
/// loudness normalisation is on, brought to the same loudness target as the speech, under its true-peak ceiling.
///
/// Threading: `Sendable`; prepared chimes are cached under a mutex (any task may ask).
public final class Chimes: Sendable {
    /// Where a chime comes from.
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        case builtIn(String)
        case file(String)

        public var description: String {
            switch self {
            case .builtIn(let name): name
            case .file(let path): path
            }
        }
    }

    /// Names of the built-in chimes: a rising two-partial bell for before, a lower one for after.
    public static let builtInNames = ["ding", "dong"]

    /// `ding`/`dong`, or an absolute path to a sound file. Throws a message for anything else.
    public static func source(_ text: String) throws(ChimeError) -> Source {
        if builtInNames.contains(text) { return .builtIn(text) }
        guard text.hasPrefix("/") else {
            throw ChimeError("chime \"\(text)\" is neither a built-in chime (\(builtInNames.joined(separator: ", "))) nor an absolute path to a sound file")
        }
        return .file(text)
    }

    private struct Key: Hashable {
        let source: Source
        let format: PCMFormat
        let loudness: LoudnessTarget?
    }

    private let cache = Mutex<[Key: [Int16]]>([:])

    public init() {}

    /// The chime's samples at `format`, loudness-matched to `loudness` when given. Reads and converts once per
    /// source, format and target. Throws a message naming the file and the reason.
    public func samples(_ source: Source, format: PCMFormat, loudness: LoudnessTarget?) throws(ChimeError) -> [Int16] {
        let key = Key(source: source, format: format, loudness: loudness)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        var sound: SoundFile
        switch source {
        case .builtIn(let name): sound = Self.bell(name == "dong" ? 523.25 : 880, format: format)
        case .file(let path):
            do { sound = try SoundFile.read(path: path) } catch { throw ChimeError(error.message) }
        }
        var samples = try Self.convert(sound, to: format)
        if let loudness { Self.match(&samples, format: format, target: loudness) }
        cache.withLock { $0[key] = samples }
        return samples
    }

    /// A bell of two inharmonic partials (1 and 2.76 × `pitch`) with a 5 ms attack and an exponential decay, 450 ms.
    static func bell(_ pitch: Double, format: PCMFormat) -> SoundFile {
        let rate = Double(format.sampleRate)
        let frames = Int(rate * 0.45)
        let channels = max(format.channels, 1)
        var samples = [Int16](repeating: 0, count: frames * channels)
        for frame in 0..<frames {
            let time = Double(frame) / rate
            let envelope = min(time / 0.005, 1) * exp(-time * 7)
            let value = envelope * (0.8 * sin(2 * .pi * pitch * time) + 0.2 * sin(2 * .pi * pitch * 2.76 * time))
            let sample = Int16(max(min(value * 16_000, 32_767), -32_768))
            for channel in 0..<channels { samples[frame * channels + channel] = sample }
        }
        return SoundFile(format: format, samples: samples)
    }

    /// Resampled (libsoxr) and channel-mapped to `format`.
    static func convert(_ sound: SoundFile, to format: PCMFormat) throws(ChimeError) -> [Int16] {
        guard sound.format != format else { return sound.samples }
        let chain = ProcessingChain([Resampler(outputRate: format.sampleRate), ChannelMap(channels: format.channels)])
        do {
            var samples = try chain.process(AudioChunk(format: sound.format, samples: sound.samples)).samples
            if let tail = try chain.flush() { samples += tail.samples }
            return samples
        } catch {
            throw ChimeError("the chime could not be converted to \(format.sampleRate) Hz, \(format.channels) channel(s): \(error)")
        }
    }

    /// Gain to the integrated loudness target, lowered where needed so that the true peak stays under the ceiling.
    static func match(_ samples: inout [Int16], format: PCMFormat, target: LoudnessTarget) {
        guard let meter = LoudnessMeter(format: format) else { return }
        meter.add(samples)
        guard let loudness = meter.integratedLoudness, let peakDB = meter.truePeak else { return }
        let gainDB = min(target.integrated - loudness, target.truePeak - peakDB)
        let gain = pow(10, max(min(gainDB, 20), -40) / 20)
        samples.withUnsafeMutableBufferPointer { SampleMath.applyGain(gain, to: $0) }
    }
}

/// Why a chime cannot be played: the message says which and why.
///
/// Threading: a value type; Sendable.
public struct ChimeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
