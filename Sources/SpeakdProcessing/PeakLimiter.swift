import SpeakdCore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the true peak (the peak between samples as well as at them, what a DAC reconstructs) under a ceiling, so a
/// voice raised to a loudness target never clips: a look-ahead limiter whose gain reaches each peak's requirement
/// before the peak, then recovers slowly (no pumping on speech).
///
/// How: each sample's required gain is `ceiling / peak`, where the peak is the largest of the sample and of three
/// points interpolated on each side by a windowed sinc (a 4× oversampled estimate, as BS.1770's true peak); a running minimum
/// over the look-ahead holds each requirement for `lookahead` frames before it is due, a slow release (time constant
/// `releaseSeconds`) lets the gain come back, and a moving average over the look-ahead smooths the steps without ever
/// rising above a requirement. Output is delayed by `lookahead + taps + 1` frames within a segment; `flush` releases them.
///
/// Units: interleaved s16, whole frames; the gain applies to all channels of a frame alike (the image stays put).
///
/// Threading: not Sendable; one task at a time (see `AudioFilter`). Allocates its buffers per format.
public final class PeakLimiter: AudioFilter {
    /// The ceiling in dBTP.
    public let ceiling: Double
    public static let lookaheadSeconds = 0.002
    public static let releaseSeconds = 0.02

    private var format: PCMFormat?
    private var lookahead = 1
    private var release: Float = 0
    private var ceilingLinear: Float = 1
    /// Frames not yet output (interleaved, as floats in s16 units), beginning with up to 2 frames of context.
    private var frames: [Float] = []
    /// Frames at the start of `frames` kept only as interpolation context (already output).
    private var context = 0
    /// Required gains of frames whose requirement is known but not yet output, and the smoothing state.
    private var required: [Float] = []
    private var held: Float = 1
    /// The last `lookahead` held gains and their sum: the output gain is their mean (each is at or below the
    /// requirement of the frame being output, so the mean is too).
    private var history: [Float] = [1]
    private var historySum: Float = 1
    private var historyIndex = 0
    /// No frame output since the start or the last flush.
    private var fresh = true

    /// Linear gain applied to the input before limiting (in floating point: raised samples never clip on the way in).
    public var inputGain: Float = 1

    public init(ceiling: Double = -1.0) {
        self.ceiling = ceiling
    }

    public func process(_ samples: inout [Int16], format: PCMFormat) throws(AudioFilterError) {
        samples = limit(samples, format: format)
    }

    /// What `process` does, returning the frames that are ready.
    public func limit(_ samples: [Int16], format: PCMFormat) -> [Int16] {
        var out: [Int16] = []
        if format != self.format {
            out = flush()
            open(format)
        }
        frames.reserveCapacity(frames.count + samples.count)
        let gain = inputGain
        for sample in samples { frames.append(Float(sample) * gain) }
        return out + drain(final: false)
    }

    public func flush() -> [Int16] {
        guard format != nil else { return [] }
        let out = drain(final: true)
        frames.removeAll(keepingCapacity: true)
        required.removeAll(keepingCapacity: true)
        context = 0
        resetGain()
        return out
    }

    private func open(_ format: PCMFormat) {
        self.format = format
        lookahead = max(Int(Self.lookaheadSeconds * Double(format.sampleRate)), 1)
        release = Float(1 - exp(-1 / (Self.releaseSeconds * Double(format.sampleRate))))
        ceilingLinear = Float(pow(10, ceiling / 20) * 32_767)
        frames = []
        required = []
        context = 0
        resetGain()
    }

    private func resetGain() {
        fresh = true
        held = 1
        history = [Float](repeating: 1, count: lookahead)
        historySum = Float(lookahead)
        historyIndex = 0
    }

    /// Computes requirements for the frames whose neighbours are known and outputs the frames whose gain is final.
    private func drain(final: Bool) -> [Int16] {
        guard let format else { return [] }
        let channels = format.channels
        let total = frames.count / channels
        // Frame k's peak needs frames k − taps … k + taps + 1. Requirements exist for frames context ..< context +
        // required.count.
        let known = final ? total : max(total - Self.taps - 1, context)
        var index = context + required.count
        // Between samples a speech signal overshoots its neighbours by at most a few dB (a sine at a quarter of the
        // rate: 3 dB): only frames near a sample above half the ceiling are interpolated, which keeps the cost
        // small on speech (most samples lie far below).
        let worthInterpolating = ceilingLinear / 2
        while index < known {
            var loud = false
            for frame in max(index - 1, 0)...min(index + 1, total - 1) where !loud {
                for channel in 0..<channels where abs(frames[frame * channels + channel]) > worthInterpolating { loud = true }
            }
            required.append(loud ? min(1, ceilingLinear / max(peak(around: index, channels: channels, total: total), 1)) : 1)
            index += 1
        }
        // A frame is output once the `lookahead` frames after it have requirements (or at the end).
        let ready = final ? required.count : max(required.count - lookahead, 0)
        guard ready > 0 else { return [] }
        var out = [Int16](repeating: 0, count: ready * channels)
        // The nearest frame at or after `position` whose requirement is below 1 (most are exactly 1).
        var nextLimited = 0
        for position in 0..<ready {
            // Hold: the lowest requirement from here to `lookahead` ahead; release: recover slowly towards it.
            if nextLimited < position { nextLimited = position }
            while nextLimited < required.count, required[nextLimited] >= 1 { nextLimited += 1 }
            var lowest: Float = 1
            if nextLimited < position + lookahead {
                for ahead in nextLimited..<min(position + lookahead, required.count) { lowest = min(lowest, required[ahead]) }
            }
            if fresh {
                // Nothing was output before this frame: start at its gain (no ramp from 1 over a loud start).
                fresh = false
                held = lowest
                for slot in history.indices { history[slot] = lowest }
                historySum = lowest * Float(history.count)
            }
            held = min(lowest, held + (1 - held) * release)
            historySum += held - history[historyIndex]
            history[historyIndex] = held
            historyIndex = (historyIndex + 1) % history.count
            let gain = min(historySum / Float(history.count), 1)
            for channel in 0..<channels {
                let value = frames[(context + position) * channels + channel] * gain
                out[position * channels + channel] = Int16(max(min(value.rounded(), 32_767), -32_768))
            }
        }
        required.removeFirst(ready)
        // Keep `taps` output frames as context for the next interpolation.
        let drop = max(context + ready - Self.taps, 0)
        frames.removeFirst(drop * channels)
        context = context + ready - drop
        return out
    }

    /// The largest magnitude at frame `index` and at the points a quarter, half and three quarters of the way to
    /// each neighbour, reconstructed with a windowed sinc (`taps` frames each side): a 4× oversampled true peak.
    private func peak(around index: Int, channels: Int, total: Int) -> Float {
        var highest: Float = 0
        let reach = Self.taps
        for channel in 0..<channels {
            highest = max(highest, abs(frames[index * channels + channel]))
            for start in [index - 1, index] {
                for coefficients in Self.interpolation {
                    var value: Float = 0
                    for (offset, coefficient) in coefficients.enumerated() {
                        let frame = min(max(start - reach + 1 + offset, 0), total - 1)
                        value += frames[frame * channels + channel] * coefficient
                    }
                    highest = max(highest, abs(value))
                }
            }
        }
        return highest
    }

    /// Frames each side of an interval that its interpolation reads.
    static let taps = 6
    /// For t = ¼, ½, ¾: the weights of frames start − taps + 1 … start + taps for the point start + t (Hann-windowed sinc).
    private static let interpolation: [[Float]] = [0.25, 0.5, 0.75].map { t in
        (-(taps - 1)...taps).map { k in
            let x = Double(k) - t
            let sinc = x == 0 ? 1 : sin(.pi * x) / (.pi * x)
            let window = 0.5 * (1 + cos(.pi * x / Double(taps)))
            return Float(sinc * window)
        }
    }
}
