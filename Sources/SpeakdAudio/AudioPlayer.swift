import CSpeakdShim
import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What became of the samples a caller waited for.
public enum PlaybackOutcome: Sendable, Equatable {
    /// The position was reached: the samples went to the device (or were heard, for `waitUntilPlayed`), or were
    /// discarded on the control side's request (which the control side knows).
    case reached
    /// The player shut down before the position was reached.
    case cut
    /// The device failed; the samples were dropped.
    case deviceFailed(AudioOutputError)
}

/// Names a control request sent to the audio thread, to wait until it has been acted on.
///
/// Threading: a value type; Sendable.
public struct ControlTicket: Sendable, Equatable {
    let generation: UInt64
}

/// A stream of samples as the player knows it: where it starts, and which device failures came before it (so that
/// those are not blamed on it).
///
/// Threading: a value type; Sendable.
public struct PlaybackStream: Sendable, Equatable {
    public let startPosition: UInt64
    let errorGeneration: UInt64
}

/// Plays PCM: a lock-free ring in front of a dedicated audio thread that feeds an `AudioOutput`.
///
/// The control side writes samples (`write`), marks stream boundaries, discards ranges of what it wrote
/// (`discard`, `cut`), pauses and resumes, and waits for positions to be reached; the audio thread (named
/// `speakd-audio`) does the rest. Control requests travel to the audio thread on a second lock-free ring, so it
/// never takes a lock. A plain thread (`speakd-audio-ev`) turns the audio thread's eventfd rings into resumed
/// continuations, so the audio thread never touches the Swift concurrency runtime either.
///
/// Threading: all methods may be called from any thread or task. The *producer* methods (`beginStream`, `write`,
/// `endStream`, `closeOpenDiscard`) must not be called by two tasks at once: there is one producer (the job
/// runner); they are serialized by a mutex only as a safety net. `discard`, `cut`, `pause`, `resume` and the waits
/// are safe from anywhere, any time.
public final class AudioPlayer: Sendable {
    public let deviceName: String
    /// Latency after the output that speakd cannot cut (a networked output's server buffer), in microseconds; the
    /// waits for "heard" add it.
    public let downstreamLatencyMicroseconds: Int
    /// How long the device stays open after speech, in milliseconds.
    public let keepOpenMilliseconds: Int
    /// The `media.role`s a stream may carry (`write(_:format:role:)` takes an index; 0 is the default; "" for
    /// none). Fixed at start: the audio thread reads it without a lock.
    public let streamRoles: [String]
    /// Where the role's index sits in the requested-format word (PCMFormat's packing leaves bits 40 and up free).
    static let roleShift: UInt64 = 48
    public static let defaultKeepOpenMilliseconds = 10_000

    /// The device is open now (playing, or kept open after speech).
    public var deviceOpen: Bool { state.deviceOpen.load(ordering: .acquiring) }

    /// True when the device has been closed, or has played nothing for `milliseconds`: an amplifier or a speaker that
    /// powers down in silence may be asleep, and would swallow the first syllable without a lead-in.
    public func deviceAsleep(afterIdleMilliseconds milliseconds: Int) -> Bool {
        guard deviceOpen else { return true }
        let last = state.lastSoundNanoseconds.load(ordering: .relaxed)
        guard last != 0 else { return true }
        let now = AudioThread.monotonicNanoseconds()
        return now > last && (now - last) / 1_000_000 >= UInt64(max(milliseconds, 0))
    }
    /// Samples the ring holds (a few seconds); memory stays bounded whatever the text length.
    public let ringCapacity: Int
    /// Consumed samples kept for stepping back over a dropped device buffer (exact pause, fades from the sample
    /// heard last): the largest buffer the output asks for, at the most demanding format it may be opened at.
    public let rewindReserve: Int
    /// The format the device is opened at whatever the source's, when one is configured; nil: the source's format
    /// as it comes. The player does not convert: the writer's `ProcessingChain` (SpeakdProcessing) resamples and
    /// remaps to it before `write`.
    public let deviceFormat: PCMFormat?
    let state = PlayerState()
    let ring: SPSCRingBuffer<Int16>
    private let producer: PThreadMutex<SPSCRingBuffer<Int16>.Producer>
    /// The control side's end of the control ring; a mutex because any task may send (the audio thread reads
    /// without one).
    private let controls: PThreadMutex<SPSCRingBuffer<UInt64>.Producer>
    let wake: EventFD
    let notify: EventFD
    let waiters = PThreadMutex<[Waiter]>([])
    let threads = PThreadMutex<[pthread_t]>([])

    struct Waiter {
        enum Target { case device(UInt64), played(UInt64), control(UInt64) }
        var target: Target
        var errorGeneration: UInt64
        var continuation: CheckedContinuation<PlaybackOutcome, Never>
    }

    /// Creates the player and starts its threads. The device is opened on first sound, not here, so a daemon
    /// starts even when the sound server is not up yet.
    /// - Parameters:
    ///   - ringSeconds: audio buffered ahead of the device, at 48 kHz (twice that at 24 kHz).
    ///   - fadeMilliseconds: length of the fade-out on stop, cancel and pause, and of the fade-in on resume.
    ///   - deviceFormat: a fixed device format (see `deviceFormat`); nil to open the device at each source's format.
    ///   - keepOpenMilliseconds: how long the device stays open after speech (a sound server's stream keeps
    ///     exchanging timing updates and a hw: device is exclusive, so it is released after that).
    public init(output: any AudioOutput, ringSeconds: Double = 5.0, fadeMilliseconds: Int = 2,
                deviceFormat: PCMFormat? = nil, keepOpenMilliseconds: Int = AudioPlayer.defaultKeepOpenMilliseconds,
                streamRoles: [String] = [""]) throws(AudioOutputError) {
        self.keepOpenMilliseconds = keepOpenMilliseconds
        self.streamRoles = streamRoles.isEmpty ? [""] : streamRoles
        deviceName = output.deviceName
        downstreamLatencyMicroseconds = max(output.downstreamLatencyMicroseconds, 0)
        self.deviceFormat = deviceFormat
        rewindReserve = Self.rewindReserve(bufferMicroseconds: output.maximumBufferMicroseconds, deviceFormat: deviceFormat)
        ring = SPSCRingBuffer(minimumCapacity: Int(ringSeconds * 48_000), rewindReserve: rewindReserve, zero: 0)
        ringCapacity = ring.writableCapacity
        producer = PThreadMutex(ring.makeProducer())
        let controlRing = SPSCRingBuffer<UInt64>(minimumCapacity: 4_096 * PlayerControl.wordCount, zero: 0)
        controls = PThreadMutex(controlRing.makeProducer())
        wake = try EventFD(nonBlocking: true)
        notify = try EventFD(nonBlocking: false)
        let audio = AudioThread(state: state, output: output, consumer: ring.makeConsumer(),
                                controls: controlRing.makeConsumer(), wake: wake, notify: notify, maxChunk: 4_800,
                                fadeMilliseconds: fadeMilliseconds,
                                keepOpenMilliseconds: Int32(clamping: max(keepOpenMilliseconds, 0)),
                                streamRoles: self.streamRoles)
        let audioThread = try Self.spawn(name: "speakd-audio") {
            speakd_realtime_guard_register_thread()
            audio.run()
        }
        realtimePriorityError = Self.raiseToRealtime(audioThread)
        let monitorThread = try Self.spawn(name: "speakd-audio-ev") { [self] in monitorLoop() }
        threads.withLock { $0 = [audioThread, monitorThread] }
    }

    /// Samples to keep behind the read position so that a pause or a cut can always go back to the last sample heard:
    /// the device's whole buffer at `deviceFormat`, or, with none, at the most demanding source format (the highest
    /// plausible rate, stereo), with half again for a device that grants more than it was asked (buffer sizes are
    /// rounded to whole periods), plus a fade. 80 ms (the default): 47,040 samples; the 2 s maximum: 1.15 M (2.3 MB).
    static func rewindReserve(bufferMicroseconds: Int, deviceFormat: PCMFormat?) -> Int {
        let format = deviceFormat ?? PCMFormat(sampleRate: PCMFormat.plausibleRates.upperBound, channels: 2)
        let frames = (max(bufferMicroseconds, 0) * format.sampleRate + 999_999) / 1_000_000
        return frames * max(format.channels, 1) * 3 / 2 + 960
    }

    // MARK: producer side

    /// Ring position of the next sample to be written: the start mark of whatever is written next.
    public var writePosition: UInt64 { ring.writePosition }

    /// Declares that samples are on their way: an empty ring is from now on an underrun, not the end. The returned
    /// stream is what waits refer to: a cut or device failure after this call is reported to them.
    public func beginStream() -> PlaybackStream {
        state.streamGeneration.add(1, ordering: .releasing)
        state.streaming.store(true, ordering: .releasing)
        wake.ring()   // the audio thread readies a device stopped at the end of the last speech
        return PlaybackStream(startPosition: ring.writePosition,
                              errorGeneration: state.deviceErrors.load(ordering: .acquiring))
    }

    /// Declares that the producer holds the next samples back on purpose (true) or no longer (false): while held, the
    /// device running dry is a pause between sentences, not counted as an underrun.
    public func holdBack(_ holding: Bool) {
        state.holdingBack.store(holding, ordering: .releasing)
    }

    /// Declares that no more samples follow for now: the audio thread may let the device run dry and stop.
    public func endStream() {
        state.streaming.store(false, ordering: .releasing)
        wake.ring()
    }

    /// Copies `samples` into the ring, waiting (asynchronously) while it is full. Samples in a new format wait until
    /// the previous audio has been played, then the device is reopened at the new rate. Gain and format conversion
    /// happen before, in the writer's `ProcessingChain`.
    /// Throws `CancellationError` when the calling task is cancelled; what was written stays written.
    /// `role` indexes `streamRoles`: a stream of another role also waits and reopens the device (the sound server
    /// takes a stream's role when it is created).
    public func write(_ samples: [Int16], format: PCMFormat, role: Int = 0) async throws {
        let key = format.packed | UInt64(min(max(role, 0), streamRoles.count - 1)) << Self.roleShift
        if key != state.requestedFormat.load(ordering: .relaxed) {
            while ring.readPosition != ring.writePosition {
                try await Task.sleep(for: .milliseconds(5))
            }
            state.requestedFormat.store(key, ordering: .releasing)
        }
        var offset = 0
        while offset < samples.count {
            let written = producer.withLock { producer in
                samples.withUnsafeBufferPointer { producer.write(UnsafeBufferPointer(rebasing: $0[offset...])) }
            }
            offset += written
            wake.ring()
            if offset < samples.count {
                try Task.checkCancellation()
                // Full: the audio thread frees ~4 ms of ring every 4 ms of playback. Sleeping a fraction of what is
                // buffered is plenty to stay ahead and costs a handful of wake-ups a second.
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Ends open discard ranges (`discard(from:until: nil)`, `cut`) at the current write position: what is written
    /// next plays. Call only once the producer that was writing into the range has stopped.
    public func closeOpenDiscard() {
        send(.closeOpen(until: ring.writePosition))
    }

    /// Same as `closeOpenDiscard`.
    public func reopen() { closeOpenDiscard() }

    // MARK: control side

    /// Makes sure the samples at `from ..< until` are never heard; `until == nil` covers everything written from
    /// `from` on until `closeOpenDiscard`. If the device already holds some of them, it is silenced now with a
    /// short fade. Returns once the audio thread has acted (typically well under a millisecond).
    public func discard(from: UInt64, until: UInt64?) async {
        await waitForControl(requestDiscard(from: from, until: until))
    }

    /// The synchronous half of `discard`: queues the request (so it is ordered before anything the caller does
    /// next, such as `closeOpenDiscard`) and returns a ticket for `waitForControl`.
    public func requestDiscard(from: UInt64, until: UInt64?, fadingOut: Bool = false) -> ControlTicket {
        ControlTicket(generation: send(fadingOut ? .discardFadingOut(from: from, until: until) : .discard(from: from, until: until)))
    }

    /// Queues a pause (`true`) or resume (`false`); see `pause` and `resume`.
    public func requestPause(_ pausing: Bool) -> ControlTicket {
        ControlTicket(generation: send(pausing ? .pause : .resume))
    }

    /// Returns once the audio thread has acted on the request behind `ticket` (and on every earlier one).
    public func waitForControl(_ ticket: ControlTicket) async {
        _ = await wait(for: .control(ticket.generation), since: nil)
    }

    /// Silences the device now and throws away everything queued; samples written afterwards are discarded too,
    /// until `reopen`. Returns once the audio thread has acted.
    @discardableResult
    public func cut() async -> PlaybackOutcome {
        let generation = send(.discard(from: 0, until: nil))
        return await wait(for: .control(generation), since: nil)
    }

    /// Fades out and holds playback at the first sample not heard; the producer may go on writing (the ring fills).
    /// Returns once the fade is queued.
    public func pause() async {
        let generation = send(.pause)
        _ = await wait(for: .control(generation), since: nil)
    }

    /// Continues from exactly where `pause` stopped, fading in.
    public func resume() async {
        let generation = send(.resume)
        _ = await wait(for: .control(generation), since: nil)
    }

    public var isPaused: Bool { state.paused.load(ordering: .acquiring) }

    /// The format of the samples being written now.
    public var currentFormat: PCMFormat { PCMFormat(packed: state.requestedFormat.load(ordering: .acquiring)) }

    /// Every sample before this position has been handed to the device (or discarded).
    public var devicePosition: UInt64 { state.devicePosition.load(ordering: .acquiring) }
    /// Every sample before this position has been heard (or discarded).
    public var playedPosition: UInt64 { state.playedPosition.load(ordering: .acquiring) }

    /// Puts `control` on the control ring and wakes the audio thread. Returns the generation to wait for.
    @discardableResult
    private func send(_ control: PlayerControl) -> UInt64 {
        let (a, b, c) = control.words
        let generation = controls.withLock { producer -> UInt64 in
            var words = (a, b, c)
            withUnsafeBytes(of: &words) { raw in
                let message = raw.bindMemory(to: UInt64.self)
                var sent = 0
                while sent < message.count {
                    sent += producer.write(UnsafeBufferPointer(rebasing: message[sent...]))
                    // Full only if the audio thread is stuck for thousands of messages; it drains the ring on every
                    // loop, so a short sleep is enough.
                    if sent < message.count { usleep(200) }
                }
            }
            return state.controlRequested.add(1, ordering: .acquiringAndReleasing).newValue
        }
        wake.ring()
        return generation
    }

    /// xruns and starvations while a stream was open, since start.
    public var underruns: Int { state.underruns.load(ordering: .relaxed) }

    /// The ring position at which the device last ran dry (0: never): where, in which job, the gap was heard.
    public var lastUnderrunPosition: UInt64 { state.lastUnderrunPosition.load(ordering: .relaxed) }

    /// The newest device failure, if any occurred.
    public var lastDeviceError: AudioOutputError? {
        guard state.deviceErrors.load(ordering: .acquiring) > 0 else { return nil }
        return AudioOutputError(packed: state.lastDeviceError.load(ordering: .relaxed), device: deviceName)
    }

    /// Why the device cannot be used, when its last open (or the start-up probe) failed or it failed while
    /// playing; nil once it opens again. The next stream always tries to open it afresh.
    public var deviceProblem: AudioOutputError? {
        state.deviceUsable.load(ordering: .relaxed) ? nil : lastDeviceError
    }

    /// Records a device failure found outside the audio thread (a probe at start-up), for `deviceProblem`. Streams
    /// begun afterwards are not blamed for it.
    public func reportUnavailableDevice(_ error: AudioOutputError) {
        state.lastDeviceError.store(error.packed, ordering: .relaxed)
        state.deviceErrors.add(1, ordering: .releasing)
        state.deviceUsable.store(false, ordering: .relaxed)
    }

    public var isIdle: Bool { state.idle.load(ordering: .acquiring) && ring.readPosition == ring.writePosition }

    /// The eventfds are closed here, not in `shutdown`: until the last reference goes a producer may still ring
    /// them, and a closed number could by then belong to another descriptor.
    deinit {
        wake.close()
        notify.close()
    }

    /// Stops both threads and closes the device. The player cannot be used afterwards.
    public func shutdown() {
        guard !state.shutdown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.ring()
        notify.ring()
        for thread in threads.withLock({ $0 }) { pthread_join(thread, nil) }
        resolveWaiters(final: true)
    }

    /// nil when the audio thread runs at `realtimePriority`; else why not (usually EPERM: no CAP_SYS_NICE and an
    /// RLIMIT_RTPRIO below it — the system unit grants `LimitRTPRIO=10`). Playback works either way.
    public let realtimePriorityError: Int32?
}
