import Logging
import SpeakdAudio
import SpeakdCore
import SpeakdProtocol
import SpeakdSynthesis

/// Jobs that are not played (`play: false`): synthesized straight into their encoders, outside the ring and the
/// queue's order, through the same `JobDelivery` path as played jobs.
///
/// Threading: part of the `JobQueue` actor; the synthesis itself runs off it.
extension JobQueue {
    /// Synthesizes a job that is not played straight into its taps, waiting for their encoders (no playback to
    /// protect). Runs off the actor. Returns the result and the frames synthesized.
    nonisolated static func synthesizeOffline(_ spec: JobSpec, taps: [EncodingTap]) async -> (SynthesisResult, Int) {
        let delivery = JobDelivery(destination: .encodersOnly, taps: taps)
        var format = PCMFormat.openAISpeech
        var frames = 0
        do {
            for segment in spec.segments {
                let request = SynthesisRequest(input: segment, voice: spec.voice, model: spec.model,
                                               instructions: spec.instructions, speed: spec.speed)
                try await spec.engine.synthesize(request) { chunk in
                    format = chunk.format
                    frames += chunk.samples.count / chunk.format.channels
                    try await delivery.deliver(chunk, synthesized: chunk)
                    try Task.checkCancellation()
                }
            }
            return (.completed(format, failure: nil), frames)
        } catch {
            return (.ended(by: error, format: format), frames)
        }
    }

    // MARK: offline jobs and encoders

    /// The job's taps for a new attempt (kept on the job, committed or discarded by `finalize`).
    func makeTaps(_ job: Job, mode: EncodingTap.Mode) -> [EncodingTap] {
        guard let archiver else { return [] }
        job.taps = archiver.makeTaps(job: job.id, owner: job.owner, parameters: job.parameters, spec: job.spec,
                                     mode: mode)
        return job.taps
    }

    /// Starts a job that is not played: it never enters the ring nor the priority rules, so the played jobs' order
    /// and timing are untouched.
    func startOffline(_ job: Job) {
        job.phase = .offline
        let taps = makeTaps(job, mode: .backpressure)
        let spec = job.spec
        let id = job.id
        job.offlineTask = Task {
            let (result, frames) = await Self.synthesizeOffline(spec, taps: taps)
            self.offlineEnded(id, result: result, frames: frames)
        }
    }

    func offlineEnded(_ id: String, result: SynthesisResult, frames: Int) {
        guard let job = unfinished[id] else { return }
        switch result {
        case .cancelled:
            finalize(job, .cancelled, reason: "synthesis was cancelled")
        case .completed(_, let failure?):
            finalize(job, .failed, reason: failure.message, error: ProtocolError(synthesis: failure))
        case .completed(let format, nil):
            for tap in job.taps { tap.finishInput(format: format) }
            finalize(job, .finished, duration: format.seconds(frames: frames))
        }
    }

}
