import SpeakdAudio
import SpeakdProtocol

/// Every job ends: a job whose playback stops advancing while it has audio to play (the device or the audio path
/// stuck) fails after `stallSeconds`, its audio is discarded and the queue moves on. Waiting for an upstream is not
/// a stall (nothing is there to play; the upstream's own timeouts bound it), and neither is a pause.
///
/// Threading: part of the `JobQueue` actor; the loop runs as one task while jobs are in the ring.
extension JobQueue {
    static let stallSeconds = 5.0

    func startWatchdogIfNeeded() {
        guard !watchdogRunning else { return }
        watchdogRunning = true
        Task { [weak self] in
            while let self, await self.watchdogStep() {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// One look at the heard position; returns false (ending the loop) when no job is in the ring.
    private func watchdogStep() -> Bool {
        guard let job = inRing.first else {
            watchdogRunning = false
            stallWatch = nil
            return false
        }
        let played = player.playedPosition
        let now = monotonicSeconds()
        let hasAudioToPlay = player.writePosition > played
        guard !paused, hasAudioToPlay, job.cutPosition == nil else {
            stallWatch = nil
            return true
        }
        guard let watch = stallWatch, watch.job == job.id, watch.position == played else {
            stallWatch = (job.id, played, now)
            return true
        }
        guard now - watch.since >= Self.stallSeconds else { return true }
        stallWatch = nil
        let heard = job.ringStart.map { played > $0 ? Double(played - $0) : 0 } ?? 0
        let format = player.currentFormat
        let seconds = (heard / Double(max(format.channels, 1)) / Double(max(format.sampleRate, 1)) * 10).rounded() / 10
        let reason = "playback stalled at \(seconds) s: the audio device \"\(player.deviceName)\" took no audio for \(Int(Self.stallSeconds)) s"
        deviceFailed(job, reason, log: "playback stalled")
        return true
    }
}
