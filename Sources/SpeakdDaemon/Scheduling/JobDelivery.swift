import SpeakdAudio
import SpeakdSynthesis

/// Where a job's synthesized audio goes, chunk by chunk: the one delivery path of both synthesis loops (a played
/// job's `SegmentPipeline`, an offline job's `JobQueue.synthesizeOffline`).
///
/// Threading: a value type; Sendable. `deliver` runs on the synthesis task, off the queue's actor.
struct JobDelivery: Sendable {
    enum Destination: Sendable {
        /// Into the player's ring at the job's gain; the encoders are fed beside it and drop out when they lag
        /// (playback is never held back for them).
        case ring(AudioPlayer, gain: Double)
        /// Into the encoders alone, waiting for them (no playback to protect).
        case encodersOnly
    }

    let destination: Destination
    let taps: [EncodingTap]

    /// Hands one chunk on; suspends while the ring (or, offline, an encoder) is full.
    func deliver(_ chunk: AudioChunk) async throws {
        switch destination {
        case .ring(let player, let gain):
            try await player.write(chunk.samples, format: chunk.format, gain: gain)
            for tap in taps { tap.feed(chunk.samples, format: chunk.format) }
        case .encodersOnly:
            for tap in taps { await tap.feedWaiting(chunk.samples, format: chunk.format) }
        }
    }
}

/// How a synthesis loop ended.
///
/// Threading: a value type; Sendable.
enum SynthesisResult: Sendable {
    /// Every segment was written, or synthesis failed after writing some (`failure`).
    case completed(PCMFormat, failure: SynthesisError?)
    case cancelled

    /// The one reading of what a synthesis loop threw: cancelled (the task was, or the error says so), the engine's
    /// own failure, or anything else as an engine failure.
    static func ended(by error: any Error, format: PCMFormat) -> SynthesisResult {
        if Task.isCancelled || error is CancellationError { return .cancelled }
        if let error = error as? SynthesisError { return .completed(format, failure: error) }
        return .completed(format, failure: SynthesisError(.engine, "\(error)"))
    }
}
