import SpeakdCore
import Synchronization

/// Control messages and discarded ranges: reading the control ring, silencing what the device holds of a discarded
/// range (with a fade from the last sample heard), and skipping discarded samples in the ring.
///
/// Threading: the audio thread only (see `AudioThread`).
extension AudioThread {
    func applyControls() {
        let requested = state.controlRequested.load(ordering: .acquiring)
        guard requested != controlSeen else { return }
        var silenceNeeded = false
        var pauseWanted: Bool?
        while controls.availableToRead() >= PlayerControl.wordCount {
            let region = controls.readableRegion(limit: PlayerControl.wordCount)
            var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
            if region.count == PlayerControl.wordCount {
                words = (region[0], region[1], region[2])
                controls.consume(PlayerControl.wordCount)
            } else {
                // The message wraps around the ring's end: read it word by word.
                words.0 = readControlWord()
                words.1 = readControlWord()
                words.2 = readControlWord()
            }
            switch PlayerControl(words: words) {
            case .discardFadingOut(let from, let until):
                if from > consumer.position { fadeOutBefore = min(fadeOutBefore, from) }
                discards.insert(from: from, until: until ?? .max)
                if deviceHasFrames, from < consumer.position { silenceNeeded = true }
            case .discard(let from, let until):
                discards.insert(from: from, until: until ?? .max)
                // Part of the range went to the device already: it must be cut there. (While paused the device
                // holds only the fade and silence.)
                if deviceHasFrames, from < consumer.position { silenceNeeded = true }
            case .closeOpen(let until):
                discards.closeOpen(at: until)
            case .pause: pauseWanted = true
            case .resume: pauseWanted = false
            case nil: break
            }
        }
        if silenceNeeded, !paused {
            silence()
        }
        if pauseWanted == true, !paused {
            pauseAfterDeviceBuffer()
        }
        if pauseWanted == false, paused {
            paused = false
            state.paused.store(false, ordering: .releasing)
        }
        controlSeen = requested
        // Published before the discard moves the positions: whoever sees the positions jump must also see that a
        // control message, not playback, moved them.
        state.controlCompleted.store(requested, ordering: .releasing)
        skipDiscarded()
        notify.ring()
    }

    private func readControlWord() -> UInt64 {
        let region = controls.readableRegion(limit: 1)
        let word = region.first ?? 0
        controls.consume(region.count)
        return word
    }

    /// Drops what the device holds and queues a short fade-out from the last sample heard instead, when that sample
    /// is itself discarded; otherwise (a discarded range that starts after the point heard) the device simply resumes
    /// from that point with no fade, since the audio heard continues unchanged.
    private func silence() {
        let channels = channels
        let held = heldSamples
        let heard = max(consumer.position &- min(held, consumer.position), consumer.oldestRewindable)
        output.dropAndPrepare()
        deviceHasFrames = false
        var resumeAt = heard
        if discards.contains(heard) {
            let count = readFade(at: heard, channels: channels)
            if count > 0 {
                SampleMath.applyRamp(to: UnsafeMutableBufferPointer(rebasing: scratch[..<count]), channels: channels,
                                     length: count, offset: 0, rising: false)
                queueScratch(count: count)
                resumeAt = heard + UInt64(count)
            }
        }
        if resumeAt < consumer.position {
            consumer.rewind(to: resumeAt)
        } else if resumeAt > consumer.position {
            consumer.discard(upTo: resumeAt)
        }
        state.devicePosition.store(consumer.position, ordering: .releasing)
        if heard > state.playedPosition.load(ordering: .relaxed) {
            state.playedPosition.store(heard, ordering: .releasing)
        }
        starving = false
    }

    /// Jumps over discarded ranges at the read position.
    func skipDiscarded() {
        guard discards.count > 0 else { return }
        let position = consumer.position
        if var target = discards.skipTarget(for: position) {
            if target == .max {
                // An open range (a cut while its producer may still write) ends where `closeOpenDiscard` says, and
                // that message is sent before the samples after it are written. So read how far the ring is written
                // first, then look for new messages: samples past the range's end are never taken for part of it.
                let written = position + UInt64(consumer.availableToRead())
                if state.controlRequested.load(ordering: .acquiring) != controlSeen {
                    applyControls()
                    return
                }
                target = written
            }
            if consumer.discard(upTo: target) > 0 { publishDiscarded() }
        }
        discards.removePassed(before: consumer.position)
    }

    func publishDiscarded() {
        let position = consumer.position
        state.devicePosition.store(position, ordering: .releasing)
        if deviceHasFrames == false {
            state.playedPosition.store(position, ordering: .releasing)
        }
        notify.ring()
    }
}
