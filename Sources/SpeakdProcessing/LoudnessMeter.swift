import CEbur128
#if canImport(Glibc)
import Glibc
#endif
import SpeakdCore

/// Measures speech loudness as EBU R 128 defines it (libebur128): integrated loudness in LUFS (gated, so pauses do
/// not count), and true peak (4× oversampled, in dBTP) — the figures broadcast and streaming normalise to.
///
/// Units: `add` takes interleaved s16 samples, a whole number of frames; results in LUFS and dBTP (nil until there
/// is enough audio: 400 ms for a gated block).
///
/// Threading: not Sendable; one task at a time. Allocates (libebur128's state); never used on the audio thread.
public final class LoudnessMeter {
    public let format: PCMFormat
    private let state: UnsafeMutablePointer<ebur128_state>

    /// nil when libebur128 refuses the format (it takes 1…16 channels at 16 Hz…2.8 MHz) or memory is exhausted.
    /// - Parameter truePeak: measure the true peak too (`truePeak` is nil without it). It oversamples every channel
    ///   4×, about 15 % more CPU (0.24 → 0.28 ms per second of 24 kHz mono): a meter that only needs the loudness
    ///   leaves it off.
    public init?(format: PCMFormat, truePeak: Bool = true) {
        let mode = Int32(EBUR128_MODE_I.rawValue | (truePeak ? EBUR128_MODE_TRUE_PEAK.rawValue : 0))
        guard let state = ebur128_init(UInt32(format.channels), UInt(format.sampleRate), mode) else { return nil }
        self.format = format
        self.state = state
    }

    deinit {
        var pointer: UnsafeMutablePointer<ebur128_state>? = state
        ebur128_destroy(&pointer)
    }

    /// Seconds of audio measured so far.
    public private(set) var seconds = 0.0

    /// Adds `samples` scaled by `gain` (linear), as floating point: what a gain would make of them, unclipped.
    public func add(_ samples: [Int16], gain: Double) {
        let frames = samples.count / max(format.channels, 1)
        guard frames > 0 else { return }
        let scaled = samples.map { Float(Double($0) * gain / 32_768) }
        scaled.withUnsafeBufferPointer { _ = ebur128_add_frames_float(state, $0.baseAddress, frames) }
        seconds += Double(frames) / Double(format.sampleRate)
    }

    public func add(_ samples: [Int16]) {
        let frames = samples.count / max(format.channels, 1)
        guard frames > 0 else { return }
        samples.withUnsafeBufferPointer { _ = ebur128_add_frames_short(state, $0.baseAddress, frames) }
        seconds += Double(frames) / Double(format.sampleRate)
    }

    /// Gated integrated loudness of everything added, in LUFS; nil while silent or shorter than one 400 ms block.
    public var integratedLoudness: Double? {
        var loudness = 0.0
        guard ebur128_loudness_global(state, &loudness) == EBUR128_SUCCESS.rawValue, loudness.isFinite else { return nil }
        return loudness
    }

    /// The highest true peak of any channel so far, in dBTP (dB relative to full scale); nil before any sound.
    public var truePeak: Double? {
        var highest = 0.0
        for channel in 0..<format.channels {
            var peak = 0.0
            guard ebur128_true_peak(state, UInt32(channel), &peak) == EBUR128_SUCCESS.rawValue else { return nil }
            highest = max(highest, peak)
        }
        return highest > 0 ? 20 * log10(highest) : nil
    }
}
