import SpeakdAudio
import SpeakdCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The house's speakers: audio for a snapserver source, alone (the player's output) or beside the local device (an
/// `AudioMirror` of an `OutputGroup`).
///
/// The audio thread's side (this class) only queues: samples go into a lock-free ring, stream marks (start, cut,
/// stop) into a second one, and the `SnapcastSender` thread does the rest — converting to the source's format,
/// pacing by the wall clock, connecting, reconnecting — so a slow or absent snapserver costs the audio thread
/// nothing: what does not fit is dropped and counted.
///
/// Alone, it is paced by the monotonic clock here (it takes `leadMilliseconds` ahead of real time and no more); the
/// sender paces what it sends the same way, alone or beside a local device, so a stop cuts all but that lead
/// (snapserver reads its sources in real time; whatever speakd wrote beyond that would sit in socket buffers, out of
/// reach of a stop).
///
/// Heard: snapserver plays a chunk `bufferMilliseconds` (its `buffer` setting) after it reads it, in every room at
/// once; that is `downstreamLatencyMicroseconds`, which the player adds to its events. What snapserver holds then is
/// out of reach: a stop ends the stream at once, and the rooms fall silent (or back to the music) within it.
///
/// Threading: the `AudioOutput` / `AudioMirror` methods on the audio thread only; `status` and `shutdown` from any
/// thread. `@unchecked Sendable` for the hand-over to the audio thread: the audio-thread state below is touched by
/// that thread alone.
public final class SnapcastOutput: AudioOutput, AudioMirror, @unchecked Sendable {
    public let source: SnapcastSource
    public let deviceName: String
    public let leadMilliseconds: Int
    public let downstreamLatencyMicroseconds: Int
    let sender: SnapcastSender
    private var samples: SPSCRingBuffer<Int16>.Producer
    private var marks: SPSCRingBuffer<UInt64>.Producer
    let dropped = Atomic<Int>(0)
    /// After the last byte the connection stays up for snapserver's buffer and this much more: the rooms have
    /// played the tail by then (measured: a meta stream switched back any sooner loses it).
    static let lingerMarginMilliseconds = 200

    // Audio-thread state (as the player's output).
    private var format: PCMFormat?
    private var streamActive = false
    private var startNanoseconds: UInt64 = 0
    private var framesWritten = 0
    public private(set) var isRunning = false

    /// - Parameters:
    ///   - bufferMilliseconds: snapserver's `buffer` (end-to-end latency), for events that say "heard".
    ///   - leadMilliseconds: how far ahead of real time speakd sends (what a stop can still cut).
    ///   - hooks: called on the sender thread when a stream starts and ends (the group switcher).
    ///   - log: called on the sender thread with what users should see in the log (connected, lost, back).
    ///   - prerollMilliseconds: silence sent first whenever the source becomes active (see `SnapcastSender`).
    public init(source: SnapcastSource, bufferMilliseconds: Int, leadMilliseconds: Int = 80, prerollMilliseconds: Int = 0,
                hooks: SnapcastStreamHooks = SnapcastStreamHooks(), log: @escaping @Sendable (String) -> Void) throws {
        self.source = source
        self.leadMilliseconds = max(leadMilliseconds, 10)
        downstreamLatencyMicroseconds = (max(bufferMilliseconds, 0) + max(prerollMilliseconds, 0)) * 1_000
        deviceName = "snapcast \(source)"
        // Two seconds at the most demanding stream format speakd plays (48 kHz stereo): a sender that falls behind
        // by more than that is not coming back in time to matter.
        let sampleRing = SPSCRingBuffer<Int16>(minimumCapacity: 192_000, zero: 0)
        let markRing = SPSCRingBuffer<UInt64>(minimumCapacity: 1_024, zero: 0)
        samples = sampleRing.makeProducer()
        marks = markRing.makeProducer()
        sender = try SnapcastSender(source: source, samples: sampleRing.makeConsumer(), marks: markRing.makeConsumer(),
                                    leadMilliseconds: self.leadMilliseconds,
                                    lingerMilliseconds: max(bufferMilliseconds, 0) + Self.lingerMarginMilliseconds,
                                    prerollMilliseconds: max(prerollMilliseconds, 0),
                                    hooks: hooks, log: log)
    }

    /// What the sender knows: connected or not, the last problem, audio sent and dropped.
    public var status: SnapcastStatus {
        var status = sender.status
        status.droppedFrames += dropped.load(ordering: .relaxed)
        return status
    }

    /// Ends the sender thread (after the audio thread has stopped using this output).
    public func shutdown() { sender.shutdown() }

    // MARK: AudioMirror (beside a local device: the device sets the pace, the sender paces the copy)

    public func streamStarts(format: PCMFormat) {
        self.format = format
        send(.start(format))
    }

    public func copy(_ buffer: UnsafeBufferPointer<Int16>, frames: Int) {
        _ = enqueue(buffer, frames: frames)
    }

    public func cut() { send(.cut) }

    public func streamDrained() { send(.drain) }

    public func streamStops() { send(.stop) }

    // MARK: AudioOutput (alone: paced here by the wall clock)

    public var maximumBufferMicroseconds: Int { leadMilliseconds * 1_000 }
    public var periodFrames: Int { format.map { $0.sampleRate / 100 } ?? 0 }
    public var bufferFrames: Int { format.map { $0.sampleRate * leadMilliseconds / 1_000 } ?? 0 }

    public func open(format: PCMFormat) {
        if streamActive { send(.stop) }
        self.format = format
        streamActive = false
        restartClock()
    }

    public func close() {
        if streamActive { send(.stop) }
        streamActive = false
        format = nil
        isRunning = false
    }

    public func availableFrames() -> Int {
        guard let format else { return 0 }
        var elapsed = elapsedFrames(format)
        if framesWritten < elapsed {
            // Nothing came for a while (the ring ran dry): the source heard a gap; go on from now rather than send
            // the missed time at once.
            startNanoseconds = Self.now() &- UInt64(framesWritten) * 1_000_000_000 / UInt64(format.sampleRate)
            elapsed = framesWritten
        }
        let allowance = elapsed + bufferFrames - framesWritten
        return max(0, min(allowance, samples.availableToWrite() / max(format.channels, 1)))
    }

    public func write(_ buffer: UnsafeBufferPointer<Int16>, frames: Int) -> Int {
        guard let format else { return 0 }
        if !streamActive {
            streamActive = true
            send(.start(format))
        }
        let taken = enqueue(buffer, frames: frames)
        framesWritten += taken
        isRunning = true
        return taken
    }

    /// What speakd holds beyond real time (the sender's own pacing, its preroll included, is in
    /// `downstreamLatencyMicroseconds`).
    public func delayFrames() -> Int {
        guard let format, isRunning else { return 0 }
        return max(framesWritten - elapsedFrames(format), 0)
    }

    public func start() { isRunning = true }

    public func dropAndPrepare() {
        if isRunning, delayFrames() > 0 { send(.cut) }
        isRunning = false
        restartClock()
    }

    public func endOfStream() {
        if streamActive, isRunning { send(.drain) }
        isRunning = false
        restartClock()
    }

    public func stopWhileIdle() {
        endOfStream()
        if streamActive { send(.stop) }
        streamActive = false
    }

    public func readyForStream() {
        guard let format, !streamActive else { return }
        streamActive = true
        send(.start(format))
    }

    public func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int { 0 }

    // MARK: the rings

    /// Queues whole frames of `buffer` for the sender; returns how many fitted (the rest is counted as dropped).
    private func enqueue(_ buffer: UnsafeBufferPointer<Int16>, frames: Int) -> Int {
        let channels = max(format?.channels ?? 1, 1)
        let fitting = min(frames, samples.availableToWrite() / channels, buffer.count / channels)
        if fitting > 0 {
            _ = samples.write(UnsafeBufferPointer(rebasing: buffer.prefix(fitting * channels)))
            sender.wake.ring()
        }
        if fitting < frames { dropped.add(frames - fitting, ordering: .relaxed) }
        return fitting
    }

    /// Marks apply at the sample position where they are sent (see `SnapcastMark`).
    private func send(_ mark: SnapcastMark) {
        var words = mark.words(at: samples.position)
        if marks.availableToWrite() >= 2 {
            withUnsafeBytes(of: &words) { raw in _ = marks.write(raw.bindMemory(to: UInt64.self)) }
        }
        sender.wake.ring()
    }

    private func restartClock() {
        startNanoseconds = Self.now()
        framesWritten = 0
    }

    private func elapsedFrames(_ format: PCMFormat) -> Int {
        Int((Self.now() &- startNanoseconds) * UInt64(format.sampleRate) / 1_000_000_000)
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

/// Called on the sender thread when the house's stream starts (before its first byte) and after it ends.
/// Threading: Sendable closures.
public struct SnapcastStreamHooks: Sendable {
    public var started: @Sendable () -> Void
    public var ended: @Sendable () -> Void
    public init(started: @escaping @Sendable () -> Void = {}, ended: @escaping @Sendable () -> Void = {}) {
        self.started = started
        self.ended = ended
    }
}

/// What the Snapcast output reports in `status`. Threading: a value type; Sendable.
public struct SnapcastStatus: Sendable, Equatable {
    public var connected = false
    public var streaming = false
    public var lastError: String?
    public var sentFrames = 0
    public var droppedFrames = 0
    public var reconnects = 0
}

/// A stream mark on the mark ring: two words, the kind (with the format) and the sample position it applies at.
/// Threading: a value type.
enum SnapcastMark: Equatable {
    /// A stream starts at this format: connect, then send what follows.
    case start(PCMFormat)
    /// Everything queued before the position is thrown away.
    case cut
    /// The stream ends after what was queued before the position: send it, then disconnect.
    case stop
    /// Everything before the position has been played: send the converter's tail now (a gap follows).
    case drain

    func words(at position: UInt64) -> (UInt64, UInt64) {
        switch self {
        case .start(let format): return (1 | format.packed << 8, position)
        case .cut: return (4, position)
        case .stop: return (8, position)
        case .drain: return (16, position)
        }
    }

    init?(kind: UInt64) {
        switch kind & 0xFF {
        case 1: self = .start(PCMFormat(packed: kind >> 8))
        case 4: self = .cut
        case 8: self = .stop
        case 16: self = .drain
        default: return nil
        }
    }
}
