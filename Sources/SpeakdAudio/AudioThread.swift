import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real-time loop: moves samples from the ring into the output, obeys cut requests, and publishes positions.
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
    private let wake: EventFD
    private let notify: EventFD
    private let pollSet: UnsafeMutableBufferPointer<PollDescriptor>
    private let maxChunk: Int

    private var openFormat: UInt64 = 0
    /// Frames are queued in the device (it is running or prepared with data).
    private var deviceHasFrames = false
    private var cutSeen: UInt64 = 0
    /// A device that failed to open is not retried within the same stream.
    private var failedStreamGeneration: UInt64 = .max
    private var starving = false

    init(state: PlayerState, output: any AudioOutput, consumer: consuming SPSCRingBuffer<Int16>.Consumer,
         wake: EventFD, notify: EventFD, maxChunk: Int) {
        self.state = state
        self.output = output
        self.consumer = consumer
        self.wake = wake
        self.notify = notify
        self.maxChunk = maxChunk
        pollSet = .allocate(capacity: 33)
    }

    deinit { pollSet.deallocate() }

    func run() {
        while !state.shutdown.load(ordering: .acquiring) {
            step()
        }
        output.close()
    }

    private func step() {
        let cut = state.cutRequested.load(ordering: .acquiring)
        if cut != cutSeen {
            output.dropAndPrepare()
            deviceHasFrames = false
            starving = false
            cutSeen = cut
            // Published before the discard moves the positions: whoever sees the positions jump must also see
            // that a cut, not playback, moved them (the monitor loads positions first, with acquire).
            state.cutCompleted.store(cut, ordering: .releasing)
            discardPending()
            notify.ring()
        }
        discardPending()

        let region = consumer.readableRegion(limit: maxChunk)
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
        writeToDevice(region)
    }

    /// Throws away samples the control side has disowned (after a cut, until `reopen`).
    private func discardPending() {
        let until = state.discardUntil.load(ordering: .acquiring)
        if consumer.position < until, consumer.discard(upTo: until) > 0 {
            publishDiscarded()
        }
    }

    private func publishDiscarded() {
        let position = consumer.position
        state.devicePosition.store(position, ordering: .releasing)
        if deviceHasFrames == false {
            state.playedPosition.store(position, ordering: .releasing)
        }
        notify.ring()
    }

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

    private func writeToDevice(_ region: UnsafeBufferPointer<Int16>) {
        do {
            let available = try output.availableFrames() * PCMFormat(packed: openFormat).channels
            guard available > 0 else {
                waitForDevice()
                return
            }
            let written = try output.write(UnsafeBufferPointer(rebasing: region.prefix(available)))
            guard written > 0 else {
                waitForDevice()
                return
            }
            consumer.consume(written)
            deviceHasFrames = true
            starving = false
            let position = consumer.position
            state.devicePosition.store(position, ordering: .releasing)
            publishPlayed(delay: output.delayFrames())
            if position >= state.watchDevicePosition.load(ordering: .relaxed) { notify.ring() }
        } catch let error where error.kind == .underrun {
            state.underruns.add(1, ordering: .relaxed)
        } catch {
            recordDeviceError(error)
            output.close()
            openFormat = 0
            deviceHasFrames = false
            if consumer.discard(upTo: .max) > 0 { publishDiscarded() }
        }
    }

    private func publishPlayed(delay: Int) {
        let device = state.devicePosition.load(ordering: .relaxed)
        let played = device &- UInt64(min(delay, Int(device)))
        if played > state.playedPosition.load(ordering: .relaxed) {
            state.playedPosition.store(played, ordering: .releasing)
            if played >= state.watchPlayedPosition.load(ordering: .relaxed) { notify.ring() }
        }
    }

    private func recordDeviceError(_ error: AudioOutputError) {
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
