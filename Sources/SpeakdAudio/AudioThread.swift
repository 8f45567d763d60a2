import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real-time loop: moves samples from the ring into the output, obeys control messages (discard ranges, pause,
/// resume), and publishes positions.
///
/// Silencing: when a discard range reaches into what the device already holds, the device is dropped
/// (`snd_pcm_drop`) and a fade of a couple of milliseconds, taken from the ring (its rewind reserve) at the last
/// sample heard, is queued instead, so speech ends within milliseconds and without a hard cut.
///
/// Pausing is exact instead of instant: what the device holds (at most its buffer, 40 ms) plays out, followed by a
/// fade-out of the next samples, then the device is kept running on silence, so that resume continues with the
/// very next sample (fading in) and no sample is lost or repeated — a flush could not promise that, because how much
/// of a flushed buffer was heard is only an estimate. After `pauseKeepAliveSeconds` of pause the device is released.
///
/// Rules of this thread, in the steady state: no allocation, no locks, no logging, no awaiting. It sleeps only in
/// `poll` — on its wake-up eventfd alone when idle (no CPU at all), and on the device's descriptors as well while
/// playing. Opening the device (first sound, a change of sample rate, after a device error) allocates inside
/// alsa-lib; that happens only between streams, when no sample is due.
///
/// Threading: created by `AudioPlayer`, then handed to (and used exclusively by) the thread it runs on; that
/// one-time hand-over is why it is `@unchecked Sendable`.
final class AudioThread: @unchecked Sendable {
    private let state: PlayerState
    private let output: any AudioOutput
    private var consumer: SPSCRingBuffer<Int16>.Consumer
    private var controls: SPSCRingBuffer<UInt64>.Consumer
    private let wake: EventFD
    private let notify: EventFD
    private let pollSet: UnsafeMutableBufferPointer<PollDescriptor>
    private let maxChunk: Int
    private let fadeMilliseconds: Int
    /// Fades are built here: preallocated, so pausing allocates nothing.
    private let scratch: UnsafeMutableBufferPointer<Int16>
    /// Zeros fed to the device while paused.
    private let zeros: UnsafeMutableBufferPointer<Int16>
    /// One frame gathered from both ends of the ring (see `wholeFrame`).
    private let frame: UnsafeMutableBufferPointer<Int16>
    private var pausedSilenceSamples = 0
    /// The pause's fade-out, waiting in `scratch` for room in the device.
    private var pauseFadeLength = 0
    private var pauseFadeWritten = 0
    static let pauseKeepAliveSeconds = 10
    private var discards = DiscardRanges(capacity: 1_024)

    private var openFormat: UInt64 = 0
    /// Frames are queued in the device (it is running or prepared with data).
    private var deviceHasFrames = false
    private var controlSeen: UInt64 = 0
    /// A device that failed to open is not retried within the same stream.
    private var failedStreamGeneration: UInt64 = .max
    private var starving = false
    private var paused = false
    /// Samples still to be faded in after a resume, and the length of that fade.
    private var fadeInRemaining = 0
    private var fadeInLength = 0
    /// The start of the nearest discard range that asked for a fade-out before it (`discardFadingOut`); `.max` when
    /// none is ahead.
    private var fadeOutBefore: UInt64 = .max

    init(state: PlayerState, output: any AudioOutput, consumer: consuming SPSCRingBuffer<Int16>.Consumer,
         controls: consuming SPSCRingBuffer<UInt64>.Consumer, wake: EventFD, notify: EventFD, maxChunk: Int,
         fadeMilliseconds: Int) {
        self.state = state
        self.output = output
        self.consumer = consumer
        self.controls = controls
        self.wake = wake
        self.notify = notify
        self.maxChunk = maxChunk
        self.fadeMilliseconds = fadeMilliseconds
        pollSet = .allocate(capacity: 33)
        // Enough for a fade of up to 10 ms at 48 kHz stereo.
        scratch = .allocate(capacity: 960)
        zeros = .allocate(capacity: 4_800)
        zeros.initialize(repeating: 0)
        frame = .allocate(capacity: 256)
        frame.initialize(repeating: 0)
    }

    deinit {
        pollSet.deallocate()
        scratch.deallocate()
        zeros.deallocate()
        frame.deallocate()
    }

    func run() {
        while !state.shutdown.load(ordering: .acquiring) {
            step()
        }
        output.close()
    }

    private func step() {
        applyControls()
        if paused {
            waitWhilePaused()
            return
        }
        skipDiscarded()

        var limit = min(maxChunk, discards.distanceToNextRange(from: consumer.position))
        if fadeOutBefore <= consumer.position { fadeOutBefore = .max }
        let fadeOutDistance = fadeOutBefore == .max || openFormat == 0 ? Int.max : Int(fadeOutBefore - consumer.position)
        let fadeOutLength = openFormat == 0 ? 0 : min(fadeFrames * PCMFormat(packed: openFormat).channels, scratch.count)
        if fadeOutDistance != .max, fadeOutDistance > fadeOutLength {
            limit = min(limit, fadeOutDistance - fadeOutLength)   // the last samples before the cut go through the fade
        }
        var region = consumer.readableRegion(limit: limit)
        if region.isEmpty {
            waitWithEmptyRing()
            return
        }
        let wanted = state.requestedFormat.load(ordering: .acquiring)
        if wanted != openFormat {
            // Let the old stream play out before the device changes rate.
            if deviceHasFrames { drainStep(); return }
            guard openDevice(format: wanted) else { return }
        }
        // The ring counts samples, the device takes frames: hand it whole frames only.
        let channels = max(PCMFormat(packed: wanted).channels, 1)
        if region.count < channels {
            guard let frame = wholeFrame(channels: channels, limit: limit) else { return }
            region = frame
        } else {
            region = UnsafeBufferPointer(rebasing: region.prefix(region.count - region.count % channels))
        }
        if fadeInRemaining > 0 {
            writeFadeIn(region)
        } else if fadeOutDistance <= fadeOutLength {
            writeFadeOut(region, distance: fadeOutDistance, length: fadeOutLength)
        } else {
            writeToDevice(region)
        }
    }

    /// The last `length` samples before a cut inside speech go out with a falling ramp (`distance` samples remain).
    private func writeFadeOut(_ region: UnsafeBufferPointer<Int16>, distance: Int, length: Int) {
        let channels = PCMFormat(packed: openFormat).channels
        let count = min(region.count, distance, scratch.count)
        _ = UnsafeMutableBufferPointer(rebasing: scratch[..<count]).update(fromContentsOf: region.prefix(count))
        applyRamp(count: count, channels: channels, fadeLength: length, offset: length - distance, rising: false)
        writeToDevice(UnsafeBufferPointer(rebasing: scratch[..<count]))
    }

    /// The next frame when fewer than a frame's samples lie before the ring's end (a frame across the end: a stream
    /// that starts at an odd position after a mono one of odd length) or before a discarded range, copied into a
    /// small buffer. Nil when there is no whole frame: then either the producer is still writing it (wait for it)
    /// or it never will (the stream ended, or a discarded range cuts it): the part frame is dropped, or playback
    /// would stall on it for ever.
    private func wholeFrame(channels: Int, limit: Int) -> UnsafeBufferPointer<Int16>? {
        let usable = min(consumer.availableToRead(), limit)
        if usable >= channels {
            let count = consumer.peek(at: consumer.position, into: UnsafeMutableBufferPointer(rebasing: frame[..<channels]))
            if count == channels { return UnsafeBufferPointer(rebasing: frame[..<channels]) }
        }
        if usable == consumer.availableToRead(), state.streaming.load(ordering: .acquiring) {
            waitWithEmptyRing()
        } else if consumer.discard(upTo: consumer.position + UInt64(usable)) > 0 {
            publishDiscarded()
        }
        return nil
    }

    // MARK: control messages

    private func applyControls() {
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
        let channels = PCMFormat(packed: openFormat).channels
        let held = UInt64(output.delayFrames() * channels)
        let heard = max(consumer.position &- min(held, consumer.position), consumer.oldestRewindable)
        output.dropAndPrepare()
        deviceHasFrames = false
        var resumeAt = heard
        if discards.contains(heard) {
            let count = readFade(at: heard, channels: channels)
            if count > 0 {
                applyRamp(count: count, channels: channels, fadeLength: count, offset: 0, rising: false)
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

    /// Queues a fade-out of the samples that follow what the device holds, then holds the read position there.
    private func pauseAfterDeviceBuffer() {
        paused = true
        pausedSilenceSamples = 0
        pauseFadeLength = 0
        pauseFadeWritten = 0
        state.paused.store(true, ordering: .releasing)
        guard deviceHasFrames, openFormat != 0 else { return }
        let channels = PCMFormat(packed: openFormat).channels
        let count = readFade(at: consumer.position, channels: channels)
        guard count > 0 else { return }
        applyRamp(count: count, channels: channels, fadeLength: count, offset: 0, rising: false)
        // The device is usually full: the fade goes in as room appears, ahead of the silence.
        pauseFadeLength = count
        pauseFadeWritten = 0
        consumer.discard(upTo: consumer.position + UInt64(count))
        state.devicePosition.store(consumer.position, ordering: .releasing)
        fadeInLength = count
        fadeInRemaining = count
    }

    /// Copies the fade's samples at `position` into the scratch buffer; returns how many there were.
    private func readFade(at position: UInt64, channels: Int) -> Int {
        guard openFormat != 0 else { return 0 }
        let fadeSamples = min(fadeFrames * channels, scratch.count)
        return consumer.peek(at: position, into: UnsafeMutableBufferPointer(rebasing: scratch[..<fadeSamples]))
    }

    /// Writes the scratch buffer to the device and makes sure it plays even if shorter than the start threshold.
    private func queueScratch(count: Int) {
        let written = (try? output.write(UnsafeBufferPointer(rebasing: scratch[..<count]))) ?? 0
        if written > 0 {
            output.start()
            deviceHasFrames = true
        }
    }

    private var fadeFrames: Int {
        max(PCMFormat(packed: openFormat).sampleRate * fadeMilliseconds / 1000, 1)
    }

    /// Multiplies `scratch[0..<count]` by a raised-cosine ramp (clipping cannot occur: the gain is at most 1).
    private func applyRamp(count: Int, channels: Int, fadeLength: Int, offset: Int, rising: Bool) {
        let frames = max(fadeLength / max(channels, 1), 1)
        for index in 0..<count {
            let frame = (offset + index) / max(channels, 1)
            let phase = Double.pi * Double(min(frame, frames)) / Double(frames)
            let gain = rising ? 0.5 - 0.5 * cos(phase) : 0.5 + 0.5 * cos(phase)
            scratch[index] = Int16((Double(scratch[index]) * gain).rounded())
        }
    }

    /// Paused: the device plays out what it holds and the fade, then silence, so that the stream never restarts
    /// (a restart is where sound servers lose or pad a few milliseconds). After `pauseKeepAliveSeconds` the device is
    /// released and the thread sleeps until resumed.
    private func waitWhilePaused() {
        guard deviceHasFrames else {
            waitForWake(timeoutMilliseconds: -1)
            return
        }
        let format = PCMFormat(packed: openFormat)
        if pausedSilenceSamples >= Self.pauseKeepAliveSeconds * format.sampleRate * format.channels {
            output.dropAndPrepare()
            deviceHasFrames = false
            notify.ring()
            return
        }
        do {
            let available = try output.availableFrames() * format.channels
            if available > 0, pauseFadeWritten < pauseFadeLength {
                let count = min(available, pauseFadeLength - pauseFadeWritten)
                pauseFadeWritten += try output.write(UnsafeBufferPointer(rebasing: scratch[pauseFadeWritten..<(pauseFadeWritten + count)]))
            } else if available > 0 {
                let count = min(available, zeros.count)
                let written = try output.write(UnsafeBufferPointer(rebasing: zeros[..<count]))
                pausedSilenceSamples += written
                if !output.isRunning { output.start() }
            }
        } catch {
            // An xrun while paused is harmless: it recovered, and nothing was lost.
        }
        waitForDevice()
    }

    /// Jumps over discarded ranges at the read position.
    private func skipDiscarded() {
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

    private func publishDiscarded() {
        let position = consumer.position
        state.devicePosition.store(position, ordering: .releasing)
        if deviceHasFrames == false {
            state.playedPosition.store(position, ordering: .releasing)
        }
        notify.ring()
    }

    // MARK: playing

    private func waitWithEmptyRing() {
        guard deviceHasFrames else {
            state.idle.store(true, ordering: .releasing)
            // Idle: keep the device open for a while (the next sentence starts sooner), then release it — a
            // sound server's stream keeps exchanging timing updates, and a hw: device is exclusive.
            let woken = waitForWake(timeoutMilliseconds: openFormat == 0 ? -1 : Self.idleCloseMilliseconds)
            if !woken, openFormat != 0 {
                output.close()
                openFormat = 0
            }
            state.idle.store(false, ordering: .releasing)
            return
        }
        if !output.isRunning {
            // Fewer frames than the start threshold are queued. If the upstream is still sending, give it one
            // period to deliver more (starting now would underrun at once); otherwise start.
            if state.streaming.load(ordering: .acquiring), waitForWake(timeoutMilliseconds: periodMilliseconds) {
                return
            }
            output.start()
        }
        drainStep()
    }

    /// The ring is empty (or the format is about to change) while the device still plays: update the played position
    /// and sleep until the device is empty or new samples arrive.
    private func drainStep() {
        let delay = output.delayFrames()
        if delay <= 0 || !output.isRunning {
            output.dropAndPrepare()
            deviceHasFrames = false
            state.playedPosition.store(state.devicePosition.load(ordering: .relaxed), ordering: .releasing)
            if state.streaming.load(ordering: .acquiring), !starving {
                starving = true
                state.underruns.add(1, ordering: .relaxed)
            }
            notify.ring()
            return
        }
        publishPlayed(delay: delay)
        let rate = max(PCMFormat(packed: openFormat).sampleRate, 1)
        waitForWake(timeoutMilliseconds: Int32(min(max(delay * 1000 / rate, 1), 20)))
    }

    private func openDevice(format packed: UInt64) -> Bool {
        let generation = state.streamGeneration.load(ordering: .acquiring)
        if generation != failedStreamGeneration {
            do {
                try output.open(format: PCMFormat(packed: packed))
                openFormat = packed
                state.deviceUsable.store(true, ordering: .relaxed)
                return true
            } catch {
                failedStreamGeneration = generation
                recordDeviceError(error)
            }
        }
        // No device: the stream's samples cannot be played; drop them so the producer is not blocked for ever.
        if consumer.discard(upTo: .max) > 0 { publishDiscarded() }
        waitForWake(timeoutMilliseconds: -1)
        return false
    }

    /// After a resume: the first samples go through the scratch buffer with a rising ramp.
    private func writeFadeIn(_ region: UnsafeBufferPointer<Int16>) {
        let channels = PCMFormat(packed: openFormat).channels
        let count = min(region.count, fadeInRemaining, scratch.count)
        _ = UnsafeMutableBufferPointer(rebasing: scratch[..<count]).update(fromContentsOf: region.prefix(count))
        applyRamp(count: count, channels: channels, fadeLength: fadeInLength, offset: fadeInLength - fadeInRemaining,
                  rising: true)
        let written = writeToDevice(UnsafeBufferPointer(rebasing: scratch[..<count]))
        fadeInRemaining -= written
    }

    @discardableResult
    private func writeToDevice(_ region: UnsafeBufferPointer<Int16>) -> Int {
        do {
            let available = try output.availableFrames() * PCMFormat(packed: openFormat).channels
            guard available > 0 else {
                waitForDevice()
                return 0
            }
            let written = try output.write(UnsafeBufferPointer(rebasing: region.prefix(available)))
            guard written > 0 else {
                waitForDevice()
                return 0
            }
            consumer.consume(written)
            deviceHasFrames = true
            starving = false
            let position = consumer.position
            state.devicePosition.store(position, ordering: .releasing)
            publishPlayed(delay: output.delayFrames())
            if position >= state.watchDevicePosition.load(ordering: .relaxed) { notify.ring() }
            return written
        } catch let error where error.kind == .underrun {
            state.underruns.add(1, ordering: .relaxed)
        } catch {
            recordDeviceError(error)
            output.close()
            openFormat = 0
            deviceHasFrames = false
            if consumer.discard(upTo: .max) > 0 { publishDiscarded() }
        }
        return 0
    }

    private func publishPlayed(delay: Int) {
        let device = state.devicePosition.load(ordering: .relaxed)
        let held = UInt64(delay * PCMFormat(packed: openFormat).channels)
        let played = device &- min(held, device)
        if played > state.playedPosition.load(ordering: .relaxed) {
            state.playedPosition.store(played, ordering: .releasing)
            if played >= state.watchPlayedPosition.load(ordering: .relaxed) { notify.ring() }
        }
    }

    private func recordDeviceError(_ error: AudioOutputError) {
        state.deviceUsable.store(false, ordering: .relaxed)
        state.lastDeviceError.store(error.packed, ordering: .relaxed)
        state.deviceErrors.add(1, ordering: .releasing)
        notify.ring()
    }

    private var periodMilliseconds: Int32 { 10 }
    /// How long an idle device stays open.
    static let idleCloseMilliseconds: Int32 = 10_000

    /// Sleeps until the control side rings or the timeout passes. Returns true when woken by a ring.
    @discardableResult
    private func waitForWake(timeoutMilliseconds: Int32) -> Bool {
        pollSet[0] = PollDescriptor(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(pollSet.baseAddress, 1, timeoutMilliseconds)
        if ready > 0 { wake.clear(); return true }
        return false
    }

    /// Sleeps until the device can take frames or the control side rings.
    private func waitForDevice() {
        pollSet[0] = PollDescriptor(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        let deviceCount = output.pollDescriptors(into: UnsafeMutableBufferPointer(rebasing: pollSet[1...]))
        // Bounded wait: a sound server's descriptor may not signal on every period; 20 ms keeps the loop honest.
        let ready = poll(pollSet.baseAddress, nfds_t(1 + deviceCount), 20)
        if ready > 0, pollSet[0].revents != 0 { wake.clear() }
    }
}
