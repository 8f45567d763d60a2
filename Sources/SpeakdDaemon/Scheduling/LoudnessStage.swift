import SpeakdCore
import SpeakdProcessing

/// A job's loudness normalisation between its engine's chunks and the ring: a `LoudnessNormalizer` per voice heard
/// (a fallback mid-job brings its own), started from what that voice measured before, and what each measured
/// recorded when the job's synthesis ends.
///
/// Threading: a value owned by one job's writer task.
struct LoudnessStage {
    private let memory: LearnedLoudness?
    private var normalizer: LoudnessNormalizer?
    private var key = ""
    /// Less than this much sound says little of a voice's level.
    static let secondsToLearn = 1.0

    init(spec: JobSpec) {
        memory = spec.loudness
    }

    mutating func process(_ samples: [Int16], format: PCMFormat, voice: String) -> [Int16] {
        guard let memory else { return samples }
        if normalizer == nil || voice != key {
            record()
            key = voice
            let known = memory.voice(voice)
            normalizer = LoudnessNormalizer(target: memory.target.integrated, ceiling: memory.target.truePeak,
                                            startingLoudness: known?.loudness, startingLimiterLoss: known?.limiterLoss ?? 0)
        }
        return normalizer?.normalize(samples, format: format) ?? samples
    }

    /// Measures what was processed so far: called once it is delivered, off the path to the first sound.
    func measure() { normalizer?.measure() }

    /// A segment (a sentence or more) ended: what the limiter holds, to be written before the next one.
    mutating func endSegment() -> [Int16] { normalizer?.endSegment() ?? [] }

    /// Records what the current voice measured in this job, once.
    mutating func record() {
        if let normalizer, let memory, let measured = normalizer.measuredLoudness,
           normalizer.measuredSeconds >= Self.secondsToLearn {
            memory.record(.init(loudness: measured, limiterLoss: normalizer.limiterLoss), for: key)
        }
        normalizer = nil
    }
}
