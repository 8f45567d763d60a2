import CSpeakdShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What became of the samples a caller waited for.
public enum PlaybackOutcome: Sendable, Equatable {
    /// The position was reached: the samples went to the device (or were heard, for `waitUntilPlayed`).
    case reached
    /// A cut silenced the player before the position was reached.
    case cut
    /// The device failed; the samples were dropped.
    case deviceFailed(AudioOutputError)
}

/// A stream of samples as the player knows it: where it starts, and which cuts and device failures came before it
/// (so that those are not blamed on it).
///
/// Threading: a value type; Sendable.
public struct PlaybackStream: Sendable, Equatable {
    public let startPosition: UInt64
    let cutGeneration: UInt64
    let errorGeneration: UInt64
}

/// Plays PCM: a lock-free ring in front of a dedicated audio thread that feeds an `AudioOutput`.
///
/// The control side writes samples (`write`), marks stream boundaries, cuts (`cut`) and waits for positions to be
/// reached; the audio thread (named `speakd-audio`) does the rest. A second plain thread (`speakd-audio-events`)
/// turns the audio thread's eventfd rings into resumed continuations, so the audio thread itself never touches a
/// lock or the Swift concurrency runtime.
///
/// Threading: all methods may be called from any thread or task. The *producer* methods (`beginStream`, `write`,
/// `endStream`, `reopen`) must not be called by two tasks at once: there is one producer (the job runner); they
/// are serialized by a mutex only as a safety net. `cut` and the waits are safe from anywhere, any time.
public final class AudioPlayer: Sendable {
    public let deviceName: String
    /// Samples the ring holds (a few seconds); memory stays bounded whatever the text length.
    public let ringCapacity: Int
    let state = PlayerState()
    private let ring: SPSCRingBuffer<Int16>
    private let producer: PThreadMutex<SPSCRingBuffer<Int16>.Producer>
    private let wake: EventFD
    private let notify: EventFD
    private let waiters = PThreadMutex<[Waiter]>([])
    private let threads = PThreadMutex<[pthread_t]>([])

    private struct Waiter {
        enum Target { case device(UInt64), played(UInt64), cut(UInt64) }
        var target: Target
        var cutGeneration: UInt64
        var errorGeneration: UInt64
        var continuation: CheckedContinuation<PlaybackOutcome, Never>
    }

    /// Creates the player and starts its threads. The device is opened on first sound, not here, so a daemon
    /// starts even when the sound server is not up yet.
    public init(output: any AudioOutput, ringSeconds: Double = 5.0) throws(AudioOutputError) {
        deviceName = output.deviceName
        ring = SPSCRingBuffer(minimumCapacity: Int(ringSeconds * 48_000), zero: 0)
        ringCapacity = ring.capacity
        producer = PThreadMutex(ring.makeProducer())
        wake = try EventFD(nonBlocking: true)
        notify = try EventFD(nonBlocking: false)
        let audio = AudioThread(state: state, output: output, consumer: ring.makeConsumer(), wake: wake,
                                notify: notify, maxChunk: 4_800)
        let audioThread = try Self.spawn(name: "speakd-audio") { audio.run() }
        let monitorThread = try Self.spawn(name: "speakd-audio-ev") { [self] in monitorLoop() }
        threads.withLock { $0 = [audioThread, monitorThread] }
    }

    // MARK: producer side

    /// Ring position of the next sample to be written: the start mark of whatever is written next.
    public var writePosition: UInt64 { ring.writePosition }

    /// Declares that samples are on their way: an empty ring is from now on an underrun, not the end. The returned
    /// stream is what waits refer to: a cut or device failure after this call is reported to them.
    public func beginStream() -> PlaybackStream {
        state.streamGeneration.add(1, ordering: .releasing)
        state.streaming.store(true, ordering: .releasing)
        return PlaybackStream(startPosition: ring.writePosition,
                              cutGeneration: state.cutCompleted.load(ordering: .acquiring),
                              errorGeneration: state.deviceErrors.load(ordering: .acquiring))
    }

    /// Declares that no more samples follow for now: the audio thread may let the device run dry and stop.
    public func endStream() {
        state.streaming.store(false, ordering: .releasing)
        wake.ring()
    }

    /// Copies `samples` into the ring, waiting (asynchronously) while it is full. Samples in a new format wait until
    /// the previous audio has been played, then the device is reopened at the new rate.
    /// Throws `CancellationError` when the calling task is cancelled; what was written stays written.
    public func write(_ samples: [Int16], format: PCMFormat) async throws {
        if format.packed != state.requestedFormat.load(ordering: .relaxed) {
            while ring.readPosition != ring.writePosition {
                try await Task.sleep(for: .milliseconds(5))
            }
            state.requestedFormat.store(format.packed, ordering: .releasing)
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

    /// After a `cut`, lets newly written samples play again. Everything written before this call stays discarded.
    /// Call only when the old producer has stopped writing.
    public func reopen() {
        state.discardUntil.store(ring.writePosition, ordering: .releasing)
        wake.ring()
    }

    // MARK: control side

    /// Silences the device now and throws away everything queued; samples written afterwards are discarded too,
    /// until `reopen`. Returns once the audio thread has acted (typically well under a millisecond).
    @discardableResult
    public func cut() async -> PlaybackOutcome {
        state.discardUntil.store(.max, ordering: .releasing)
        let generation = state.cutRequested.add(1, ordering: .acquiringAndReleasing).newValue
        wake.ring()
        return await wait(for: .cut(generation), since: nil)
    }

    /// Waits until the stream's first sample has been handed to the device: "the first sample reaches the device".
    public func waitUntilStarted(_ stream: PlaybackStream) async -> PlaybackOutcome {
        await wait(for: .device(stream.startPosition + 1), since: stream)
    }

    /// Waits until every sample before `position` has been heard (device latency included).
    public func waitUntilPlayed(position: UInt64, of stream: PlaybackStream) async -> PlaybackOutcome {
        await wait(for: .played(position), since: stream)
    }

    /// xruns and starvations while a stream was open, since start.
    public var underruns: Int { state.underruns.load(ordering: .relaxed) }

    /// The newest device failure, if any occurred.
    public var lastDeviceError: AudioOutputError? {
        guard state.deviceErrors.load(ordering: .acquiring) > 0 else { return nil }
        return AudioOutputError(packed: state.lastDeviceError.load(ordering: .relaxed), device: deviceName)
    }

    public var isIdle: Bool { state.idle.load(ordering: .acquiring) && ring.readPosition == ring.writePosition }

    /// Stops both threads and closes the device. The player cannot be used afterwards.
    public func shutdown() {
        guard !state.shutdown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.ring()
        notify.ring()
        for thread in threads.withLock({ $0 }) { pthread_join(thread, nil) }
        resolveWaiters(final: true)
    }

    // MARK: waiting

    private func wait(for target: Waiter.Target, since stream: PlaybackStream?) async -> PlaybackOutcome {
        await withCheckedContinuation { continuation in
            let waiter = Waiter(target: target,
                                cutGeneration: stream?.cutGeneration ?? 0,
                                errorGeneration: stream?.errorGeneration ?? 0,
                                continuation: continuation)
            waiters.withLock { $0.append(waiter) }
            resolveWaiters(final: state.shutdown.load(ordering: .acquiring))
        }
    }

    private func monitorLoop() {
        while !state.shutdown.load(ordering: .acquiring) {
            notify.clear()
            resolveWaiters(final: false)
        }
    }

    private func resolveWaiters(final: Bool) {
        let device = state.devicePosition.load(ordering: .acquiring)
        let played = state.playedPosition.load(ordering: .acquiring)
        let cut = state.cutCompleted.load(ordering: .acquiring)
        let errors = state.deviceErrors.load(ordering: .acquiring)
        var ready: [(CheckedContinuation<PlaybackOutcome, Never>, PlaybackOutcome)] = []
        waiters.withLock { waiters in
            var watchDevice = UInt64.max
            var watchPlayed = UInt64.max
            waiters.removeAll { waiter in
                let reached: Bool
                switch waiter.target {
                case .device(let position):
                    reached = device >= position
                    if !reached { watchDevice = min(watchDevice, position) }
                case .played(let position):
                    reached = played >= position
                    if !reached { watchPlayed = min(watchPlayed, position) }
                case .cut(let generation):
                    reached = cut >= generation
                }
                var outcome = PlaybackOutcome.reached
                if case .cut = waiter.target {
                } else if cut > waiter.cutGeneration {
                    outcome = .cut
                } else if errors > waiter.errorGeneration {
                    outcome = .deviceFailed(lastDeviceError ?? AudioOutputError(kind: .write, code: -5, device: deviceName))
                }
                guard reached || outcome != .reached || final else { return false }
                ready.append((waiter.continuation, final && !reached && outcome == .reached ? .cut : outcome))
                return true
            }
            state.watchDevicePosition.store(watchDevice, ordering: .relaxed)
            state.watchPlayedPosition.store(watchPlayed, ordering: .relaxed)
        }
        for (continuation, outcome) in ready { continuation.resume(returning: outcome) }
    }

    // MARK: threads

    private final class ThreadBody {
        let body: () -> Void
        let name: String
        init(name: String, body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    private static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(AudioOutputError) -> pthread_t {
        let context = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { (raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            _ = speakd_set_thread_name(body.name)
            body.body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            throw AudioOutputError(kind: .open, code: -Int32(rc), device: "thread \(name)")
        }
        return thread
    }
}
