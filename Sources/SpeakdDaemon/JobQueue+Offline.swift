import Logging
import SpeakdAudio
import SpeakdCore
import SpeakdProtocol
import SpeakdSynthesis

/// Jobs that are not played (`play: false`): synthesized straight into their encoders, outside the ring and the
/// queue's order; and the result type both synthesis paths report.
///
/// Threading: part of the `JobQueue` actor; the synthesis itself runs off it.
extension JobQueue {
    // MARK: synthesis (off the actor)

    enum SynthesisResult: Sendable {
        /// Every segment was written, or synthesis failed after writing some (`failure`).
        case completed(PCMFormat, failure: SynthesisError?)
        case cancelled
    }

    /// The job's engine failed; the fallback speaks from here on.
    func fellBack(_ id: String, attempt: Int, because error: SynthesisError) {
        guard let job = unfinished[id], job.attempt == attempt, let fallback = job.spec.fallback else { return }
        job.engineName = fallback.engine.engineName
        job.fallbackReason = "\(job.spec.engine.engineName) failed, so \(job.engineName) spoke instead: \(error.message)"
        logger.warning("upstream failed; the embedded engine speaks instead", metadata: ["job": "\(id)", "error": "\(error.message)"])
    }

    /// Synthesizes a job that is not played straight into its taps, waiting for their encoders (no playback to
    /// protect). Runs off the actor. Returns the result and the frames synthesized.
    nonisolated static func synthesizeOffline(_ spec: JobSpec, taps: [EncodingTap]) async -> (SynthesisResult, Int) {
        var format = PCMFormat.openAISpeech
        var frames = 0
        do {
            for segment in spec.segments {
                let request = SynthesisRequest(input: segment, voice: spec.voice, model: spec.model,
                                               instructions: spec.instructions, speed: spec.speed)
                try await spec.engine.synthesize(request) { chunk in
                    format = chunk.format
                    frames += chunk.samples.count / chunk.format.channels
                    for tap in taps { await tap.feedWaiting(chunk.samples, format: chunk.format) }
                    try Task.checkCancellation()
                }
            }
            return (.completed(format, failure: nil), frames)
        } catch _ where Task.isCancelled {
            return (.cancelled, frames)
        } catch let error as SynthesisError {
            return (.completed(format, failure: error), frames)
        } catch {
            return (.completed(format, failure: SynthesisError(.engine, "\(error)")), frames)
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
        case .completed(let format, let failure?):
            _ = format
            finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
        case .completed(let format, nil):
            for tap in job.taps { tap.finishInput(format: format) }
            finalize(job, .finished, duration: format.seconds(frames: frames))
        }
    }

}
