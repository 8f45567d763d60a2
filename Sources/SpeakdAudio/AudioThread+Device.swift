import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The device's life on the audio thread: opening it at the stream's format, letting it drain when the ring runs
/// empty (counting starvation as an underrun while a stream is open), closing it after a quiet spell, and the two
/// ways the thread sleeps (on its wake-up eventfd alone, or on the device's descriptors too).
///
/// Threading: the audio thread only (see `AudioThread`).
extension AudioThread {
    /// Quiet time after speech before the stream is stopped (kept open): music ducked for the speech comes back
    /// this long after it.
    static let quietStopMilliseconds: Int32 = 250
    /// Speech that starts again within this long of such a stop comes in bursts (a screen reader's key echo, typing):
    /// from then on the stream stops only after this much quiet. Ducked music does not pump between keys, and each
    /// key does not pay for the stream's restart (ALSA's pulse plugin makes a new stream: about 0.8 ms more from a
    /// key's request to its first device write, 1,346 against 526 µs median, measured with in-daemon timestamps).
    static let burstQuietStopMilliseconds: Int32 = 1_000

    func waitWithEmptyRing() {
        guard deviceHasFrames else {
            state.idle.store(true, ordering: .releasing)
            // Idle: keep the device open for a while (the next sentence starts sooner), then release it — a
            // sound server's stream keeps exchanging timing updates, and a hw: device is exclusive. A quiet spell
            // first stops the stream while keeping it open: a sound server's ducking of other streams ends then,
            // while speech coming in bursts (a screen reader) finds the stream ready.
            let quiet = min(quietBeforeStop, keepOpenMilliseconds)
            if openFormat != 0, !stoppedWhileIdle {
                if waitForWake(timeoutMilliseconds: quiet) {
                    state.idle.store(false, ordering: .releasing)
                    return
                }
                output.stopWhileIdle()
                stoppedWhileIdle = true
                stoppedWhileIdleAt = Self.monotonicNanoseconds()
            }
            let remaining = max(keepOpenMilliseconds - quiet, 0)
            let woken = waitForWake(timeoutMilliseconds: openFormat == 0 ? -1 : remaining)
            if !woken, openFormat != 0 {
                output.close()
                openFormat = 0
                quietBeforeStop = Self.quietStopMilliseconds
                state.deviceOpen.store(false, ordering: .releasing)
            } else if woken, openFormat != 0, state.streaming.load(ordering: .acquiring) {
                speechAfterIdleStop()
                output.readyForStream()
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
    func drainStep() {
        let delay = output.delayFrames()
        if delay <= 0 || !output.isRunning {
            output.endOfStream()
            deviceHasFrames = false
            state.playedPosition.store(state.devicePosition.load(ordering: .relaxed), ordering: .releasing)
            if state.streaming.load(ordering: .acquiring), !state.holdingBack.load(ordering: .acquiring), !starving {
                starving = true
                state.lastUnderrunPosition.store(state.devicePosition.load(ordering: .relaxed), ordering: .relaxed)
                state.underruns.add(1, ordering: .relaxed)
            }
            notify.ring()
            return
        }
        publishPlayed(delay: delay)
        let rate = max(PCMFormat(packed: openFormat).sampleRate, 1)
        waitForWake(timeoutMilliseconds: Int32(min(max(delay * 1000 / rate, 1), 20)))
    }

    /// Speech again on a stream stopped while idle (called before its first write, or as it is written when the
    /// wake-up came after the stream had already ended): within `burstQuietStopMilliseconds` of the stop, a burst.
    func speechAfterIdleStop() {
        guard stoppedWhileIdle else { return }
        stoppedWhileIdle = false
        let sinceStop = Self.monotonicNanoseconds() &- stoppedWhileIdleAt
        quietBeforeStop = sinceStop < UInt64(Self.burstQuietStopMilliseconds) * 1_000_000
            ? Self.burstQuietStopMilliseconds : Self.quietStopMilliseconds
    }

    func openDevice(format packed: UInt64) -> Bool {
        let generation = state.streamGeneration.load(ordering: .acquiring)
        if generation != failedStreamGeneration {
            do {
                // The role goes to the sound server with the new stream (opening allocates anyway).
                output.useRole(streamRoles[Int(min(packed >> AudioPlayer.roleShift, UInt64(streamRoles.count - 1)))])
                try output.open(format: PCMFormat(packed: packed))
                openFormat = packed
                stoppedWhileIdle = false
                state.deviceOpen.store(true, ordering: .releasing)
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

    /// The device's period in milliseconds (at least 1), as it was granted at open; 10 before the first open.
    var periodMilliseconds: Int32 {
        let rate = PCMFormat(packed: openFormat).sampleRate
        let period = output.periodFrames
        guard openFormat != 0, rate > 0, period > 0 else { return 10 }
        return Int32(max(period * 1000 / rate, 1))
    }

    /// Sleeps until the control side rings or the timeout passes. Returns true when woken by a ring.
    @discardableResult
    func waitForWake(timeoutMilliseconds: Int32) -> Bool {
        pollSet[0] = PollDescriptor(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(pollSet.baseAddress, 1, timeoutMilliseconds)
        if ready > 0 { wake.clear(); return true }
        return false
    }

    /// Sleeps until the device can take frames or the control side rings.
    func waitForDevice() {
        pollSet[0] = PollDescriptor(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        let deviceCount = output.pollDescriptors(into: UnsafeMutableBufferPointer(rebasing: pollSet[1...]))
        // Bounded wait: a sound server's descriptor may not signal on every period; 20 ms keeps the loop honest.
        let ready = poll(pollSet.baseAddress, nfds_t(1 + deviceCount), 20)
        if ready > 0, pollSet[0].revents != 0 { wake.clear() }
    }
}
