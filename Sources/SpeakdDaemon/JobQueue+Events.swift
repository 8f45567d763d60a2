import SpeakdProtocol

/// A job's events: lifecycle events as they happen, and the one final event that forgets the job and settles its
/// encoders.
///
/// Threading: part of the `JobQueue` actor.
extension JobQueue {
    func emit(_ job: Job, _ state: JobState, priority: JobPriority? = nil, mark: String? = nil) {
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(),
                             engine: job.engineName, priority: priority, mark: mark),
                       owner: job.owner)
    }

    /// Sends the job's one final event, unless it was already sent, and forgets the job. Returns whether it sent it.
    @discardableResult
    func finalize(_ job: Job, _ state: JobState, reason: String? = nil, error: ProtocolError? = nil,
                  duration: Double? = nil, mark: String? = nil) -> Bool {
        guard unfinished.removeValue(forKey: job.id) != nil else { return false }
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(),
                             engine: job.engineName, reason: reason, error: error, duration: duration, mark: mark),
                       owner: job.owner)
        // The archive is kept only for a job heard (or synthesized) to its end: a cancelled, failed or expired
        // job's partial audio is not what was announced, and a postponed job is synthesized again from the start.
        for tap in job.taps {
            if state == .finished { tap.commit() } else { tap.discard(reason: "the job \(state.rawValue)\(reason.map { ": \($0)" } ?? "")") }
        }
        job.taps = []
        logger.debug("job \(state.rawValue)", metadata: ["job": "\(job.id)", "reason": "\(reason ?? "")"])
        return true
    }
}
