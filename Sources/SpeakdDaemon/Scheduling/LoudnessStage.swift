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

    /// A segment (a sentence or more) ended: what the limiter holds, to be written before the next one.
    mutating func endSegment() -> [Int16] { normalizer?.endSegment() ?? [] }

    /// Records what the current voice measured in this job, once: `recordDelay` later, on a task of its own, so that
    /// feeding the meters (and making them: three libebur128 states) never competes for a core with the first
    /// moments of the job's sound (a phrase-cache hit reaches the writer whole, at once, and its job ends right after).
    mutating func record() {
        if let normalizer, let memory {
            let owned = HandedOver(normalizer: normalizer)
            let key = key
            Task.detached {
                try? await Task.sleep(for: Self.recordDelay)
                let normalizer = owned.normalizer
                if let measured = normalizer.measuredLoudness, normalizer.measuredSeconds >= Self.secondsToLearn {
                    memory.record(.init(loudness: measured, limiterLoss: normalizer.limiterLoss), for: key)
                }
            }
        }
        normalizer = nil
    }

    static let recordDelay = Duration.milliseconds(50)

    /// A normalizer no longer used by its job, handed to the task that records it (one owner at a time).
    private struct HandedOver: @unchecked Sendable {
        let normalizer: LoudnessNormalizer
    }
}
