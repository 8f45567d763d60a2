#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Level changes on s16 samples in place: the saturating gain of `Gain` (SpeakdProcessing) and the raised-cosine
/// ramps the audio thread fades with (SpeakdAudio). They live here, in the core, because the audio module must not
/// link the filters' C libraries (libsonic, libsoxr) to reach a ramp.
///
/// Threading: pure functions on the caller's buffer; any thread, the audio thread included (no allocation, no
/// locks). Units: samples are interleaved; `channels` samples make a frame and a ramp steps once per frame.
public enum SampleMath {
    /// Scales `samples` by a linear `gain` (clamped to 0…8), rounding and saturating at full scale instead of
    /// wrapping around.
    public static func applyGain(_ gain: Double, to samples: UnsafeMutableBufferPointer<Int16>) {
        let gain = max(0, min(gain, 8))
        guard gain != 1 else { return }
        for index in samples.indices {
            let value = (Double(samples[index]) * gain).rounded()
            samples[index] = Int16(max(Double(Int16.min), min(Double(Int16.max), value)))
        }
    }

    /// The gain of a raised-cosine ramp `frames` frames long at `frame` (0 … frames): from 1 to 0 when falling, from
    /// 0 to 1 when rising. Beyond the ramp it stays at its end value.
    @inline(__always)
    public static func rampGain(frame: Int, frames: Int, rising: Bool) -> Double {
        let frames = max(frames, 1)
        let phase = Double.pi * Double(min(max(frame, 0), frames)) / Double(frames)
        return rising ? 0.5 - 0.5 * cos(phase) : 0.5 + 0.5 * cos(phase)
    }

    /// Multiplies `samples` by part of a ramp whose whole length is `length` samples, of which `offset` samples lie
    /// before `samples[0]` (a fade written in several pieces). Cannot clip: the gain is at most 1.
    public static func applyRamp(to samples: UnsafeMutableBufferPointer<Int16>, channels: Int, length: Int, offset: Int,
                                 rising: Bool) {
        let channels = max(channels, 1)
        let frames = max(length / channels, 1)
        for index in samples.indices {
            let gain = rampGain(frame: (offset + index) / channels, frames: frames, rising: rising)
            samples[index] = Int16((Double(samples[index]) * gain).rounded())
        }
    }
}
