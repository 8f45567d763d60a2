import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real-time loop: moves samples from the ring into the output, obeys control messages (discard ranges, pause,
/// resume), and publishes positions. This file holds its state and the playing loop; control messages and
/// discards are in `AudioThread+Controls.swift`, pause and fades in `AudioThread+Pause.swift`, the device's life
/// (open, drain, idle close, waiting) in `AudioThread+Device.swift`.
///
/// Silencing: when a discard range reaches into what the device already holds, the device is dropped
/// (`snd_pcm_drop`) and a fade of a couple of milliseconds, taken from the ring (its rewind reserve) at the last
/// sample heard, is queued instead, so speech ends within milliseconds and without a hard cut.
///
/// Pausing is exact instead of instant: what the device holds (at most its buffer, 80 ms by default) plays out, followed by a
/// fade-out of the next samples, then the device is kept running on silence, so that resume continues with the
/// very next sample (fading in) and no sample is lost or repeated — a flush could not promise that, because how much
/// of a flushed buffer was heard is only an estimate. After `pauseKeepAliveSeconds` of pause the device is released.
///
/// Units: the ring and its positions count samples; the output counts frames. Conversions happen at the output's
/// calls (`writeFrames`, `heldSamples`), and whole frames only are handed to it.
///
/// Rules of this thread, in the steady state: no allocation, no locks, no logging, no awaiting. It sleeps only in
/// `poll` — on its wake-up eventfd alone when idle (no CPU at all), and on the device's descriptors as well while
/// playing. Opening the device (first sound, a change of sample rate, after a device error) allocates inside
/// alsa-lib; that happens only between streams, when no sample is due.
///
/// Threading: created by `AudioPlayer`, then handed to (and used exclusively by) the thread it runs on; that
/// one-time hand-over is why it is `@unchecked Sendable`.
final class AudioThread: @unchecked Sendable {
    let state: PlayerState
    let output: any AudioOutput
    var consumer: SPSCRingBuffer<Int16>.Consumer
    var controls: SPSCRingBuffer<UInt64>.Consumer
    let wake: EventFD
    let notify: EventFD
    let pollSet: UnsafeMutableBufferPointer<PollDescriptor>
    let maxChunk: Int
    let fadeMilliseconds: Int
    /// How long an idle device stays open after speech (`AudioPlayer.keepOpenMilliseconds`).
    let keepOpenMilliseconds: Int32
    /// `AudioPlayer.streamRoles`, indexed by the requested format word's top bits.
    let streamRoles: [String]
    /// Fades are built here: preallocated, so pausing allocates nothing.
    let scratch: UnsafeMutableBufferPointer<Int16>
    /// Zeros fed to the device while paused.
    let zeros: UnsafeMutableBufferPointer<Int16>
    /// One frame gathered from both ends of the ring (see `wholeFrame`).
    let frame: UnsafeMutableBufferPointer<Int16>
    var pausedSilenceSamples = 0
    /// The pause's fade-out, waiting in `scratch` for room in the device.
    var pauseFadeLength = 0
    var pauseFadeWritten = 0
    static let pauseKeepAliveSeconds = 10
    var discards = DiscardRanges(capacity: 1_024)

    var openFormat: UInt64 = 0
    /// Frames are queued in the device (it is running or prepared with data).
    var deviceHasFrames = false
    /// The device is open but its stream stopped after a quiet spell (`AudioOutput.stopWhileIdle`).
    var stoppedWhileIdle = false
    /// The quiet spell before that stop (`quietStopMilliseconds`, or `burstQuietStopMilliseconds` in a burst), and
    /// when the last stop happened (monotonic nanoseconds).
    var quietBeforeStop = AudioThread.quietStopMilliseconds
    var stoppedWhileIdleAt: UInt64 = 0
    var controlSeen: UInt64 = 0
    /// A device that failed to open is not retried within the same stream.
    var failedStreamGeneration: UInt64 = .max
    var starving = false
    var paused = false
    /// Samples still to be faded in after a resume, and the length of that fade.
    var fadeInRemaining = 0
    var fadeInLength = 0
    /// The start of the nearest discard range that asked for a fade-out before it (`discardFadingOut`); `.max` when
    /// none is ahead.
    var fadeOutBefore: UInt64 = .max

    init(state: PlayerState, output: any AudioOutput, consumer: consuming SPSCRingBuffer<Int16>.Consumer,
         controls: consuming SPSCRingBuffer<UInt64>.Consumer, wake: EventFD, notify: EventFD, maxChunk: Int,
         fadeMilliseconds: Int, keepOpenMilliseconds: Int32 = 10_000, streamRoles: [String] = [""]) {
        self.keepOpenMilliseconds = keepOpenMilliseconds
        self.streamRoles = streamRoles
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
        state.deviceOpen.store(false, ordering: .releasing)
    }

    /// CLOCK_MONOTONIC in nanoseconds (a vDSO call: no system call, no allocation).
    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Channels of the open format (1 when closed).
    var channels: Int { max(PCMFormat(packed: openFormat).channels, 1) }

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
        let fadeOutLength = openFormat == 0 ? 0 : min(fadeFrames * channels, scratch.count)
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

    /// Hands whole frames of `samples` to the output; returns the samples it took. Throws what the output throws.
    func writeFrames(_ samples: UnsafeBufferPointer<Int16>) throws(AudioOutputError) -> Int {
        let channels = channels
        return try output.write(samples, frames: samples.count / channels) * channels
    }

    /// Samples the device holds (written, not yet heard).
    var heldSamples: UInt64 { UInt64(output.delayFrames() * channels) }

    @discardableResult
    func writeToDevice(_ region: UnsafeBufferPointer<Int16>) -> Int {
        do {
            let available = try output.availableFrames() * channels
            guard available > 0 else {
                waitForDevice()
                return 0
            }
            let written = try writeFrames(UnsafeBufferPointer(rebasing: region.prefix(available)))
            guard written > 0 else {
                waitForDevice()
                return 0
            }
            consumer.consume(written)
            deviceHasFrames = true
            speechAfterIdleStop()
            state.lastSoundNanoseconds.store(Self.monotonicNanoseconds(), ordering: .relaxed)
            starving = false
            let position = consumer.position
            state.devicePosition.store(position, ordering: .releasing)
            publishPlayed(delay: output.delayFrames())
            if position >= state.watchDevicePosition.load(ordering: .relaxed) { notify.ring() }
            return written
        } catch let error where error.kind == .underrun {
            state.lastUnderrunPosition.store(consumer.position, ordering: .relaxed)
            state.underruns.add(1, ordering: .relaxed)
        } catch {
            recordDeviceError(error)
            output.close()
            openFormat = 0
            state.deviceOpen.store(false, ordering: .releasing)
            deviceHasFrames = false
            if consumer.discard(upTo: .max) > 0 { publishDiscarded() }
        }
        return 0
    }

    func publishPlayed(delay: Int) {
        let device = state.devicePosition.load(ordering: .relaxed)
        let held = UInt64(delay * channels)
        let played = device &- min(held, device)
        if played > state.playedPosition.load(ordering: .relaxed) {
            state.playedPosition.store(played, ordering: .releasing)
            if played >= state.watchPlayedPosition.load(ordering: .relaxed) { notify.ring() }
        }
    }

    func recordDeviceError(_ error: AudioOutputError) {
        state.deviceUsable.store(false, ordering: .relaxed)
        state.lastDeviceError.store(error.packed, ordering: .relaxed)
        state.deviceErrors.add(1, ordering: .releasing)
        notify.ring()
    }
}
