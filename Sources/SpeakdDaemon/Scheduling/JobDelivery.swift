import SpeakdAudio
import SpeakdCore
import SpeakdSynthesis

/// Where a job's synthesized audio goes, chunk by chunk: the one delivery path of both synthesis loops (a played
/// job's `SegmentPipeline`, an offline job's `JobQueue.synthesizeOffline`).
///
/// Threading: a value type; Sendable. `deliver` runs on the synthesis task, off the queue's actor.
struct JobDelivery: Sendable {
    enum Destination: Sendable {
        /// Into the player's ring (after the writer's post-processing: loudness, the job's gain, the device's
        /// format); the encoders are fed the engine's own audio beside it and drop out when they lag (playback is
        /// never held back for them).
        case ring(AudioPlayer)
        /// Into the encoders alone, waiting for them (no playback to protect).
        case encodersOnly
    }

    let destination: Destination
    let taps: [EncodingTap]
    /// The stream role (`AudioPlayer.streamRoles` index) the job's audio plays with.
    var role = 0

    /// Hands one chunk on: `played` (post-processed) into the ring, `synthesized` (the engine's own audio, nil for
    /// what a filter released at a segment's end) to the encoders. Suspends while the ring (or, offline, an encoder)
    /// is full.
    func deliver(_ played: AudioChunk, synthesized: AudioChunk?) async throws {
        switch destination {
        case .ring(let player):
            if !played.samples.isEmpty { try await player.write(played.samples, format: played.format, role: role) }
            if let synthesized { for tap in taps { tap.feed(synthesized.samples, format: synthesized.format) } }
        case .encodersOnly:
            guard let synthesized else { return }
            for tap in taps { await tap.feedWaiting(synthesized.samples, format: synthesized.format) }
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
