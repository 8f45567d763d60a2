import CSpeakdShim
import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The player's two threads: the monitor (`speakd-audio-ev`), which turns the audio thread's notifications into
/// resumed waiters, and how both threads are started (the audio thread at real-time priority).
///
/// Threading: as `AudioPlayer`; `monitorLoop` runs on the monitor thread, the waits on any task.
extension AudioPlayer {
    // MARK: waiting

    func wait(for target: Waiter.Target, since stream: PlaybackStream?) async -> PlaybackOutcome {
        await withCheckedContinuation { continuation in
            let waiter = Waiter(target: target,
                                errorGeneration: stream?.errorGeneration ?? .max,
                                continuation: continuation)
            waiters.withLock { $0.append(waiter) }
            resolveWaiters(final: state.shutdown.load(ordering: .acquiring))
        }
    }

    func monitorLoop() {
        while !state.shutdown.load(ordering: .acquiring) {
            notify.clear()
            resolveWaiters(final: false)
        }
    }

    func resolveWaiters(final: Bool) {
        let device = state.devicePosition.load(ordering: .acquiring)
        let played = state.playedPosition.load(ordering: .acquiring)
        let control = state.controlCompleted.load(ordering: .acquiring)
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
                case .control(let generation):
                    reached = control >= generation
                }
                var outcome = PlaybackOutcome.reached
                if errors > waiter.errorGeneration {
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

    /// SCHED_FIFO priority asked for the audio thread. Sound servers run their I/O threads real-time (PulseAudio at
    /// 5, JACK at 10): at normal priority a busy machine (a neural TTS server on the same cores) can delay the
    /// thread's wake-up past the device's buffer. The thread sleeps in poll between periods; should a bug ever make it spin,
    /// `realtimeCPULimitMicroseconds` returns it to normal scheduling instead of letting it hold a core.
    public static let realtimePriority: Int32 = 10
    /// CPU time the audio thread may use without sleeping before the kernel's RLIMIT_RTTIME guard demotes it (the
    /// value PulseAudio uses). A period's work takes well under a millisecond.
    public static let realtimeCPULimitMicroseconds = 200_000

    /// Times the RLIMIT_RTTIME guard has returned a real-time thread to normal scheduling (0 unless there is a bug).
    public var realtimeDemotions: Int { speakd_realtime_guard_demotions() }

    static func raiseToRealtime(_ thread: pthread_t) -> Int32? {
        var parameters = sched_param()
        parameters.sched_priority = realtimePriority
        let rc = pthread_setschedparam(thread, Int32(SCHED_FIFO), &parameters)
        guard rc == 0 else { return rc }
        let guardError = speakd_realtime_guard_install(realtimeCPULimitMicroseconds)
        if guardError != 0 {
            // No guard, no real-time: a spinning real-time thread could hold a core for ever.
            parameters.sched_priority = 0
            pthread_setschedparam(thread, Int32(SCHED_OTHER), &parameters)
            return guardError
        }
        return nil
    }

    private final class ThreadBody {
        let body: () -> Void
        let name: String
        init(name: String, body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(AudioOutputError) -> pthread_t {
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

// MARK: waiting for positions

extension AudioPlayer {
    /// Waits until the stream's first sample has been handed to the device: "the first sample reaches the device".
    /// On an output with a downstream latency (a Snapcast server's buffer), that much later: when it is heard there.
    public func waitUntilStarted(_ stream: PlaybackStream) async -> PlaybackOutcome {
        await afterDownstreamLatency(await wait(for: .device(stream.startPosition + 1), since: stream))
    }

    /// Waits until every sample before `position` has been heard (device latency included, and the output's
    /// downstream latency after that).
    public func waitUntilPlayed(position: UInt64, of stream: PlaybackStream) async -> PlaybackOutcome {
        await afterDownstreamLatency(await wait(for: .played(position), since: stream))
    }

    private func afterDownstreamLatency(_ outcome: PlaybackOutcome) async -> PlaybackOutcome {
        if outcome == .reached, downstreamLatencyMicroseconds > 0 {
            try? await Task.sleep(nanoseconds: UInt64(downstreamLatencyMicroseconds) * 1_000)
        }
        return outcome
    }
}
