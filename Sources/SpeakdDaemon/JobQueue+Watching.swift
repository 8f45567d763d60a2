import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis

/// Watching playback: `started` when a job's first sample reaches the device, `finished` (or `failed`) when its last
/// has been heard.
///
/// Threading: part of the `JobQueue` actor.
extension JobQueue {
    // MARK: watching playback

    func watchStart(_ id: String, attempt: Int, stream: PlaybackStream) async {
        let outcome = await player.waitUntilStarted(stream)
        guard let job = unfinished[id], job.attempt == attempt, !job.startedSent else { return }
        switch outcome {
        case .reached:
            job.startedSent = true
            job.underrunsAtStart = player.underruns
            if deviceFailing {
                deviceFailing = false
                logger.notice("the audio device works again", metadata: ["job": "\(id)", "device": "\(player.deviceName)"])
            }
            emit(job, .started)
        case .deviceFailed(let error):
            deviceFailed(job, error.description, log: "audio device failed")
        case .cut:
            break
        }
    }

    func watchEnd(_ id: String, attempt: Int, stream: PlaybackStream, end position: UInt64, duration: Double,
                          failure: SynthesisError?) async {
        let outcome = await player.waitUntilPlayed(position: position, of: stream)
        guard let job = unfinished[id], job.attempt == attempt, job.cutPosition == nil else { return }
        switch outcome {
        case .reached:
            inRing.removeAll { $0 === job }
            if !job.startedSent {
                job.startedSent = true
                emit(job, .started)
            }
            reportMarks(job, through: job.markPositions.count)
            if player.realtimeDemotions > realtimeDemotionsReported {
                realtimeDemotionsReported = player.realtimeDemotions
                logger.error("the audio thread ran \(AudioPlayer.realtimeCPULimitMicroseconds / 1000) ms without sleeping and was returned to normal priority: a bug, please report it with this log")
            }
            if let timeline = job.timeline, timeline.all.contains(where: { !$0.audiblePauses.isEmpty }) {
                // The upstream's next audio came after what was before it had played out: a pause it imposed.
                logger.info("the upstream was late (a pause between sentences or at a silence was heard)", metadata: [
                    "job": "\(id)", "segments": "\(timeline.description(ranDryAt: nil))"])
            }
            if let before = job.underrunsAtStart, player.underruns > before {
                // The device ran dry inside this job: a gap was heard. Logged so a report can say which job and why.
                logger.notice("the device ran dry during the job (a gap was heard)", metadata: [
                    "job": "\(id)", "underruns": "\(player.underruns - before)", "engine": "\(job.engineName)",
                    "pacing": "\(job.spec.performance?.model.arrivalRate.description ?? "none")",
                    "segments": "\(job.timeline?.description(ranDryAt: player.lastUnderrunPosition) ?? "")"])
            }
            if let failure {
                finalize(job, .failed, reason: failure.message, error: ProtocolError(synthesis: failure))
            } else {
                finalize(job, .finished, reason: job.fallbackReason, duration: duration)
            }
            pump()
        case .deviceFailed(let error):
            deviceFailed(job, error.description, log: "audio device failed while playing")
        case .cut:
            break
        }
    }

    /// The one ending of a job for its audio device (failed under a watcher, or stalled): the job fails, its audio is
    /// discarded, and the next start is logged as the device's return.
    func deviceFailed(_ job: Job, _ reason: String, log message: Logger.Message) {
        deviceFailing = true
        logger.error(message, metadata: ["job": "\(job.id)", "error": "\(reason)", "device": "\(player.deviceName)"])
        _ = end(job, .failed, reason: reason, error: .audioDevice(reason))
        pump()
    }
}
