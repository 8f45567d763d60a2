import SpeakdAudio
import SpeakdCore
import SpeakdProcessing
import SpeakdSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Snapcast output's own thread (`speakd-snapcast`): takes what the audio thread queued, converts it to the
/// source's format (soxr and a channel map, the post-processing stage's filters), sends it paced by the wall clock,
/// and keeps the connection: opened when a stream starts, closed when it stops (so the source goes idle and a `meta`
/// stream returns to the music), retried every second while a stream wants it. Blocking here is fine: nothing waits
/// for this thread.
///
/// Threading: created by `SnapcastOutput`; `wake`, `status` and `shutdown` from any thread;
/// everything else on the sender thread alone (hence `@unchecked Sendable`).
final class SnapcastSender: @unchecked Sendable {
    let source: SnapcastSource
    let wake: EventFD
    var samples: SPSCRingBuffer<Int16>.Consumer
    var marks: SPSCRingBuffer<UInt64>.Consumer
    let leadMilliseconds: Int
    /// How long the connection stays up after the last byte (snapserver's buffer and a margin).
    let lingerMilliseconds: Int
    /// Silence sent first whenever the source becomes active: a meta stream switching to it drops about its buffer's
    /// worth of what comes first (measured with snapserver 0.26: the first 418 ms of 1 s at buffer 400), so the
    /// speech comes after that.
    let prerollMilliseconds: Int
    let hooks: SnapcastStreamHooks
    let log: @Sendable (String) -> Void
    let stopping = Atomic<Bool>(false)
    let shared = PThreadMutex(SnapcastStatus())
    var thread: pthread_t?

    // Sender-thread state.
    var connection: SnapcastConnection?
    var streaming = false
    var inputFormat: PCMFormat?
    var chain: ProcessingChain?
    var stopFlushed = false
    /// When the last input came, and whether the pause since has been handled (`flushWhenInputPauses`).
    var lastInput: UInt64 = 0
    var inputPaused = true
    /// When a stopped stream's connection closes (its tail has been heard by then); nil when none is lingering.
    var lingerUntil: UInt64?
    var pending: [UInt8] = []
    var pendingOffset = 0
    var clockStart: UInt64 = 0
    var bytesSent = 0
    var retryAt: UInt64 = 0
    var blocked = false
    var blockedSince: UInt64 = 0
    /// A source that takes nothing for this long counts as gone.
    static let stallNanoseconds: UInt64 = 1_000_000_000
    var outage: String?
    var scratch = [Int16](repeating: 0, count: 9_600)

    init(source: SnapcastSource, samples: consuming SPSCRingBuffer<Int16>.Consumer,
         marks: consuming SPSCRingBuffer<UInt64>.Consumer, leadMilliseconds: Int, lingerMilliseconds: Int,
         prerollMilliseconds: Int, hooks: SnapcastStreamHooks,
         log: @escaping @Sendable (String) -> Void) throws {
        self.source = source
        self.samples = samples
        self.marks = marks
        self.leadMilliseconds = leadMilliseconds
        self.lingerMilliseconds = lingerMilliseconds
        self.prerollMilliseconds = prerollMilliseconds
        self.hooks = hooks
        self.log = log
        wake = try EventFD(nonBlocking: true)
        thread = try Threads.start(name: "speakd-snapcast", detached: false) { [self] in run() }
    }

    deinit { wake.close() }

    var status: SnapcastStatus { shared.withLock { $0 } }

    func shutdown() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.ring()
        if let thread { pthread_join(thread, nil) }
    }

    func run() {
        // A pipe whose reader went away (snapserver stopped) must fail the write with EPIPE, not raise SIGPIPE and
        // end the daemon: the signal a write raises goes to the writing thread, so blocking it here is enough.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        while !stopping.load(ordering: .acquiring) {
            let markWaits = handleQueued()
            flushWhenInputPauses()
            if let lingerUntil, SnapcastOutput.now() >= lingerUntil {
                self.lingerUntil = nil
                endStream()
            }
            sendPending()
            if markWaits, pendingBytes == 0 { continue }   // the tail went out: the mark applies now
            sleep()
        }
        if streaming { endStream() }
    }

    // MARK: marks and samples

    /// Applies marks whose position has been reached and converts the samples before the next one. Returns true
    /// when a mark is due but waits for what is pending to be sent first.
    func handleQueued() -> Bool {
        while true {
            let next = peekMark()
            let limit = next.map { $0.1 } ?? .max
            takeSamples(upTo: limit)
            guard let (mark, position) = next else { return false }
            if case .cut = mark {
                _ = samples.discard(upTo: position)
                consumeMark()
                dropPending()
                chain = inputFormat.flatMap(makeChain)   // a fresh resampler: its history belongs to the cut audio
                restartClock()
                continue
            }
            guard samples.position >= position else { return false }
            if case .drain = mark {
                flushChain()   // the tail now: the speech has ended, nothing would push it out
            } else if case .stop = mark, streaming, lingerUntil == nil {
                if !stopFlushed { flushChain(); stopFlushed = true }
                guard pendingBytes == 0 || connection == nil else { return true }   // the tail goes out first
                // Stay connected until the rooms have played the tail: the source going idle switches a meta stream
                // back to the music at once, and the clients drop what they still held of the announcement.
                lingerUntil = SnapcastOutput.now() + UInt64(lingerMilliseconds) * 1_000_000
            } else if case .start(let format) = mark {
                lingerUntil = nil   // speech again before the rooms went back: one stream
                guard pendingBytes == 0 || connection == nil else { return true }
                startStream(format: format)
            }
            consumeMark()
        }
    }

    func peekMark() -> (SnapcastMark, UInt64)? {
        guard marks.availableToRead() >= 2 else { return nil }
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            _ = marks.peek(at: marks.position, into: raw.bindMemory(to: UInt64.self))
        }
        guard let mark = SnapcastMark(kind: words.0) else { consumeMark(); return peekMark() }
        return (mark, words.1)
    }

    func consumeMark() { marks.consume(2) }

    func takeSamples(upTo limit: UInt64) {
        while samples.position < limit {
            let region = samples.readableRegion(limit: Int(min(limit - samples.position, UInt64(scratch.count))))
            guard !region.isEmpty else { return }
            let count = region.count - region.count % max(inputFormat?.channels ?? 1, 1)
            guard count > 0 else { return }
            if streaming, connection != nil, let format = inputFormat {
                let input = Array(region.prefix(count))
                append(convert(AudioChunk(format: format, samples: input)))
                lastInput = SnapcastOutput.now()
                inputPaused = false
            } else if streaming {
                shared.withLock { $0.droppedFrames += count / max(inputFormat?.channels ?? 1, 1) }
            }
            samples.consume(count)
        }
    }

    func startStream(format: PCMFormat) {
        if streaming, inputFormat != format { flushChain() }
        inputFormat = format
        chain = makeChain(format)
        stopFlushed = false
        restartClock()
        if !streaming {
            streaming = true
            hooks.started()
        }
        if connection == nil { connect() }
        shared.withLock { $0.streaming = true }
    }

    func endStream() {
        streaming = false
        connection = nil
        dropPending()
        hooks.ended()
        shared.withLock { $0.streaming = false; $0.connected = false }
    }

    // MARK: conversion

    func makeChain(_ format: PCMFormat) -> ProcessingChain? {
        guard format != source.format else { return nil }
        return ProcessingChain([Resampler(outputRate: source.format.sampleRate), ChannelMap(channels: source.format.channels)])
    }

    func convert(_ chunk: AudioChunk) -> [Int16] {
        guard let chain else { return chunk.samples }
        do { return try chain.process(chunk).samples } catch {
            note(problem: "cannot convert to \(source.format): \(error)")
            return []
        }
    }

    func flushChain() {
        guard let chain, let tail = try? chain.flush() else { return }
        if connection != nil { append(tail.samples) }
    }

    /// Input paused (the speech ended, or the upstream is late): the resampler's held-back tail goes out now, and
    /// 60 ms of silence after it, so that snapserver, which reads its source in 20 ms chunks, plays the last partial
    /// chunk now rather than with whatever comes next. Waiting for the device to drain (`drain`) would send the tail
    /// after a gap, which snapserver plays late. The copy comes a device period at a time, so a pause is 40 ms
    /// without input; by then what was sent is still ahead of its time (`lead_ms`).
    func flushWhenInputPauses() {
        guard !inputPaused, pendingBytes == 0, connection != nil,
              SnapcastOutput.now() - lastInput >= Self.tailFlushNanoseconds else { return }
        inputPaused = true
        flushChain()
        append([Int16](repeating: 0, count: source.format.sampleRate * 60 / 1_000 * source.format.channels))
    }

    static let tailFlushNanoseconds: UInt64 = 40_000_000

    func append(_ converted: [Int16]) {
        guard !converted.isEmpty else { return }
        if pendingOffset > 0, pendingOffset == pending.count { pending.removeAll(keepingCapacity: true); pendingOffset = 0 }
        converted.withUnsafeBytes { pending.append(contentsOf: $0) }   // s16 little-endian, as snapserver reads it
    }

    var pendingBytes: Int { pending.count - pendingOffset }

    func dropPending() {
        pending.removeAll(keepingCapacity: true)
        pendingOffset = 0
    }
}
