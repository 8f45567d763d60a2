import SpeakdCore
#if canImport(Glibc)
import Glibc
#endif

/// A device in simulated time, for tests of the audio thread and of what drives it, without ALSA: it records every
/// frame it is given and every frame it "plays", and plays only when the test advances its clock.
///
/// It behaves like an ALSA PCM in the ways the audio thread relies on: a buffer of `bufferFrames` frames in periods
/// of `periodFrames`; it starts by itself once a period is queued (the start threshold) or on `start()`; `delayFrames`
/// is what is queued and not yet played; advancing past what is queued while running is an xrun, reported once as
/// `.underrun` by the next `availableFrames` or `write` (already recovered, like `snd_pcm_recover`); `dropAndPrepare`
/// throws the queue away unplayed. Its poll descriptor (an eventfd) becomes readable whenever the clock advances.
///
/// Threading: the `AudioOutput` methods run on the audio thread; `advance` and the inspection members on the test's
/// thread. Both sides go through one pthread mutex (which ThreadSanitizer sees, unlike `Synchronization.Mutex`) —
/// acceptable in a test double, never in a real output — and it does not allocate: recordings go
/// into storage preallocated for `capacity` frames (frames beyond it are counted, not kept), so the audio thread's
/// no-allocation rule can be checked with this output too.
public final class TestOutput: AudioOutput, @unchecked Sendable {
    public let deviceName: String
    private let configuredPeriod: Int
    private let configuredBuffer: Int
    private let bell: EventFD
    private let state: PThreadMutex<State>

    private struct State {
        var format: PCMFormat?
        var running = false
        var queued = 0
        var xrun = false
        var failOpen: AudioOutputError.Kind?
        var failWrites = false
        var written: Recording
        var heard: Recording
        var opens: [(format: PCMFormat, heardSamples: Int)] = []
        var xruns = 0
        var drops = 0
        var droppedFrames = 0
        var idleStops = 0
    }

    /// Samples in preallocated storage; count may run past capacity (only the first `capacity` are kept).
    struct Recording: @unchecked Sendable {
        let storage: UnsafeMutableBufferPointer<Int16>
        var count = 0
        init(capacity: Int) { storage = .allocate(capacity: capacity) }
        mutating func append(_ samples: UnsafeBufferPointer<Int16>) {
            let kept = max(0, min(samples.count, storage.count - count))
            if kept > 0 {
                _ = UnsafeMutableBufferPointer(rebasing: storage[count..<(count + kept)]).update(fromContentsOf: samples.prefix(kept))
            }
            count += samples.count
        }
        var array: [Int16] { Array(storage.prefix(min(count, storage.count))) }
    }

    /// - Parameters:
    ///   - periodFrames: frames per period; the buffer holds `periods` of them.
    ///   - capacity: samples kept of what is written and of what is played (each).
    public init(deviceName: String = "test", periodFrames: Int = 240, periods: Int = 4,
                capacity: Int = 1 << 21) throws(AudioOutputError) {
        self.deviceName = deviceName
        configuredPeriod = periodFrames
        configuredBuffer = periodFrames * periods
        bell = try EventFD(nonBlocking: true)
        state = PThreadMutex(State(written: Recording(capacity: capacity), heard: Recording(capacity: capacity)))
    }

    deinit {
        bell.close()
        state.withLock { state in
            state.written.storage.deallocate()
            state.heard.storage.deallocate()
        }
    }

    // MARK: AudioOutput (audio thread)

    /// The buffer at 24 kHz, so a player sizes its rewind reserve as for a device of this buffer time.
    public var maximumBufferMicroseconds: Int { configuredBuffer * 1_000_000 / 24_000 }
    public var periodFrames: Int { state.withLock { $0.format == nil ? 0 : configuredPeriod } }
    public var bufferFrames: Int { state.withLock { $0.format == nil ? 0 : configuredBuffer } }

    public func open(format: PCMFormat) throws(AudioOutputError) {
        let failure: AudioOutputError.Kind? = state.withLock { state in
            if let kind = state.failOpen { return kind }
            state.format = format
            state.running = false
            state.queued = 0
            state.xrun = false
            state.opens.append((format, state.heard.count))
            return nil
        }
        if let failure { throw AudioOutputError(kind: failure, code: -19, device: deviceName) }
    }

    public func close() {
        state.withLock { state in
            state.format = nil
            state.running = false
            state.queued = 0
            state.xrun = false
        }
    }

    public func availableFrames() throws(AudioOutputError) -> Int {
        bell.clear()
        let result: Result<Int, AudioOutputError> = state.withLock { state in
            if let error = check(&state) { return .failure(error) }
            return .success(configuredBuffer - state.queued)
        }
        return try result.get()
    }

    public func write(_ samples: UnsafeBufferPointer<Int16>, frames: Int) throws(AudioOutputError) -> Int {
        let result: Result<Int, AudioOutputError> = state.withLock { state in
            if let error = check(&state) { return .failure(error) }
            guard let format = state.format else { return .success(0) }
            let channels = max(format.channels, 1)
            let count = min(frames, samples.count / channels, configuredBuffer - state.queued)
            guard count > 0 else { return .success(0) }
            state.written.append(UnsafeBufferPointer(rebasing: samples[..<(count * channels)]))
            state.queued += count
            if !state.running, state.queued >= configuredPeriod { state.running = true }
            return .success(count)
        }
        return try result.get()
    }

    /// The error the next call reports, if any: a failed device, or an xrun (reported once, then recovered).
    private func check(_ state: inout State) -> AudioOutputError? {
        if state.failWrites { return AudioOutputError(kind: .write, code: -19, device: deviceName) }
        guard state.format != nil else { return AudioOutputError(kind: .write, code: -77, device: deviceName) }
        if state.xrun {
            state.xrun = false
            return AudioOutputError(kind: .underrun, code: -32, device: deviceName)
        }
        return nil
    }

    public func delayFrames() -> Int { state.withLock { $0.xrun ? 0 : $0.queued } }

    public var isRunning: Bool { state.withLock { $0.running } }

    public func start() {
        state.withLock { state in
            if state.format != nil, !state.xrun { state.running = true }
        }
    }

    public func dropAndPrepare() {
        state.withLock { state in
            state.drops += 1
            state.droppedFrames += state.queued
            state.queued = 0
            state.running = false
            state.xrun = false
        }
    }

    /// As `AudioOutput`'s default (`dropAndPrepare`), and counted.
    public func stopWhileIdle() {
        dropAndPrepare()
        state.withLock { $0.idleStops += 1 }
    }

    public func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int {
        guard !buffer.isEmpty else { return 0 }
        buffer[0] = PollDescriptor(fd: bell.descriptor, events: Int16(POLLIN), revents: 0)
        return 1
    }

    // MARK: the test's side

    /// Lets `frames` frames of time pass: a running device plays that many queued frames; if fewer are queued it
    /// plays them and underruns (stops; the next call reports `.underrun`). A stopped device plays nothing.
    public func advance(frames: Int) {
        state.withLock { state in
            guard state.running, let format = state.format else { return }
            let played = min(frames, state.queued)
            // The queue is the newest `queued` frames written: the oldest of them play first.
            let channels = max(format.channels, 1)
            let start = state.written.count - state.queued * channels
            if start >= 0, start + played * channels <= state.written.storage.count {
                state.heard.append(UnsafeBufferPointer(rebasing: state.written.storage[start..<(start + played * channels)]))
            } else {
                state.heard.count += played * channels
            }
            state.queued -= played
            if frames > played {
                state.running = false
                state.xrun = true
                state.xruns += 1
            }
        }
        bell.ring()
    }

    /// Every sample played so far, in order.
    public var heard: [Int16] { state.withLock { $0.heard.array } }
    /// Every sample given to `write` so far (played, queued or dropped).
    public var written: [Int16] { state.withLock { $0.written.array } }
    public var queuedFrames: Int { state.withLock { $0.queued } }
    public var isOpen: Bool { state.withLock { $0.format != nil } }
    /// Each `open`: the format and how many samples had been played before it.
    public var opens: [(format: PCMFormat, heardSamples: Int)] { state.withLock { $0.opens } }
    /// xruns the clock caused.
    public var xruns: Int { state.withLock { $0.xruns } }
    /// `dropAndPrepare` calls, and the frames they threw away unplayed.
    public var drops: (count: Int, frames: Int) { state.withLock { ($0.drops, $0.droppedFrames) } }

    /// `stopWhileIdle` calls: the stream stopped after a quiet spell.
    public var idleStops: Int { state.withLock { $0.idleStops } }

    /// Makes the next opens fail with `kind` (nil: they succeed again).
    public func failOpens(_ kind: AudioOutputError.Kind?) { state.withLock { $0.failOpen = kind } }
    /// Makes every `availableFrames` and `write` fail as a lost device would.
    public func failWrites(_ failing: Bool) { state.withLock { $0.failWrites = failing } }
}
