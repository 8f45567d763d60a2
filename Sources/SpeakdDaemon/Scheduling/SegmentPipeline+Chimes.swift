import SpeakdCore
import SpeakdProcessing

/// The chime before a job's speech, on the writer task: written at once (after a lead-in when the device may be
/// asleep), then the configured silence; the speech follows as soon as its first samples arrive. Until then the
/// device running dry is a chosen pause, not an underrun (`holdBack`).
extension SegmentPipeline {
    func playChimeBefore(_ chime: ChimePlan, chain: ProcessingChain) async throws {
        guard let before = chime.before else { return }
        var samples = before
        if let silence = spec.leadIn?.silence(format: chime.format, player: player) { samples = silence.samples + samples }
        samples += [Int16](repeating: 0, count: chime.gapFrames * max(chime.format.channels, 1))
        try await delivery.deliver(try chain.process(AudioChunk(format: chime.format, samples: samples)), synthesized: nil)
    }
}
