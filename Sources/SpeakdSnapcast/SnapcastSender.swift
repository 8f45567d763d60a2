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
/// Threading: created by `SnapcastOutput`; `wake`, `consumedPosition`, `status` and `shutdown` from any thread;
/// everything else on the sender thread alone (hence `@unchecked Sendable`).
final class SnapcastSender: @unchecked Sendable {
    let source: SnapcastSource
    let wake: EventFD
    private var samples: SPSCRingBuffer<Int16>.Consumer
    private var marks: SPSCRingBuffer<UInt64>.Consumer
    private let leadMilliseconds: Int
    /// How long the connection stays up after the last byte (snapserver's buffer and a margin).
    private let lingerMilliseconds: Int
    /// Silence sent first whenever the source becomes active: a meta stream switching to it drops about its buffer's
    /// worth of what comes first (measured with snapserver 0.26: the first 418 ms of 1 s at buffer 400), so the
    /// speech comes after that.
    private let prerollMilliseconds: Int
    private let hooks: SnapcastStreamHooks
    private let log: @Sendable (String) -> Void
    private let consumed = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)
    private let shared = PThreadMutex(SnapcastStatus())
    private var thread: pthread_t?

    // Sender-thread state.
    private var connection: SnapcastConnection?
    private var streaming = false
    private var inputFormat: PCMFormat?
    private var chain: ProcessingChain?
    private var stopFlushed = false
    /// When a stopped stream's connection closes (its tail has been heard by then); nil when none is lingering.
    private var lingerUntil: UInt64?
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var clockStart: UInt64 = 0
    private var bytesSent = 0
    private var retryAt: UInt64 = 0
    private var blocked = false
    private var blockedSince: UInt64 = 0
    /// A source that takes nothing for this long counts as gone.
    static let stallNanoseconds: UInt64 = 1_000_000_000
    private var outage: String?
    private var scratch = [Int16](repeating: 0, count: 9_600)

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

    /// Samples before this ring position have been taken (sent, or dropped while the source was away).
    var consumedPosition: UInt64 { consumed.load(ordering: .acquiring) }

    var status: SnapcastStatus { shared.withLock { $0 } }

    func shutdown() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.ring()
        if let thread { pthread_join(thread, nil) }
    }

    private func run() {
        // A pipe whose reader went away (snapserver stopped) must fail the write with EPIPE, not raise SIGPIPE and
        // end the daemon: the signal a write raises goes to the writing thread, so blocking it here is enough.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        while !stopping.load(ordering: .acquiring) {
            let markWaits = handleQueued()
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
    private func handleQueued() -> Bool {
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
                publishConsumed()
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

    private func peekMark() -> (SnapcastMark, UInt64)? {
        guard marks.availableToRead() >= 2 else { return nil }
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            _ = marks.peek(at: marks.position, into: raw.bindMemory(to: UInt64.self))
        }
        guard let mark = SnapcastMark(kind: words.0) else { consumeMark(); return peekMark() }
        return (mark, words.1)
    }

    private func consumeMark() { marks.consume(2) }

    private func takeSamples(upTo limit: UInt64) {
        defer { if pendingBytes == 0 { publishConsumed() } }
        while samples.position < limit {
            let region = samples.readableRegion(limit: Int(min(limit - samples.position, UInt64(scratch.count))))
            guard !region.isEmpty else { return }
            let count = region.count - region.count % max(inputFormat?.channels ?? 1, 1)
            guard count > 0 else { return }
            if streaming, connection != nil, let format = inputFormat {
                let input = Array(region.prefix(count))
                append(convert(AudioChunk(format: format, samples: input)))
            } else if streaming {
                shared.withLock { $0.droppedFrames += count / max(inputFormat?.channels ?? 1, 1) }
            }
            samples.consume(count)
        }
    }

    private func startStream(format: PCMFormat) {
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

    private func endStream() {
        streaming = false
        connection = nil
        dropPending()
        hooks.ended()
        shared.withLock { $0.streaming = false; $0.connected = false }
    }

    // MARK: conversion

    private func makeChain(_ format: PCMFormat) -> ProcessingChain? {
        guard format != source.format else { return nil }
        return ProcessingChain([Resampler(outputRate: source.format.sampleRate), ChannelMap(channels: source.format.channels)])
    }

    private func convert(_ chunk: AudioChunk) -> [Int16] {
        guard let chain else { return chunk.samples }
        do { return try chain.process(chunk).samples } catch {
            note(problem: "cannot convert to \(source.format): \(error)")
            return []
        }
    }

    private func flushChain() {
        guard let chain, let tail = try? chain.flush() else { return }
        if connection != nil { append(tail.samples) }
    }

    private func append(_ converted: [Int16]) {
        guard !converted.isEmpty else { return }
        if pendingOffset > 0, pendingOffset == pending.count { pending.removeAll(keepingCapacity: true); pendingOffset = 0 }
        converted.withUnsafeBytes { pending.append(contentsOf: $0) }   // s16 little-endian, as snapserver reads it
    }

    private var pendingBytes: Int { pending.count - pendingOffset }

    private func dropPending() {
        pending.removeAll(keepingCapacity: true)
        pendingOffset = 0
    }

    private func publishConsumed() { consumed.store(samples.position, ordering: .releasing) }

    // MARK: sending

    private func sendPending() {
        guard let connection, pendingBytes > 0 else { return }
        let frameBytes = source.format.bytesPerFrame
        var allowed = pendingBytes
        do {
            let elapsed = elapsedFrames()
            var sentFrames = bytesSent / frameBytes
            if sentFrames < elapsed {
                // The copy ran dry for a while (a gap in speech): carry on from now instead of bursting.
                clockStart = SnapcastOutput.now() &- UInt64(sentFrames) * 1_000_000_000 / UInt64(source.format.sampleRate)
                sentFrames = elapsedFrames()
                bytesSent = sentFrames * frameBytes
            }
            let lead = source.format.sampleRate * leadMilliseconds / 1_000
            allowed = min(allowed, max(elapsedFrames() + lead - bytesSent / frameBytes, 0) * frameBytes)
        }
        guard allowed > 0 else { return }
        do {
            let written = try pending.withUnsafeBytes { raw throws(SnapcastConnectionError) in
                try connection.send(UnsafeRawBufferPointer(rebasing: raw[pendingOffset..<(pendingOffset + allowed)]))
            }
            if written > 0 {
                blocked = false
            } else if !blocked {
                blocked = true
                blockedSince = SnapcastOutput.now()
            } else if SnapcastOutput.now() - blockedSince > Self.stallNanoseconds {
                // A source that takes nothing for this long is not playing it: let the audio go rather than hold
                // the player's stream open for ever.
                lost("snapserver stopped reading for \(Self.stallNanoseconds / 1_000_000) ms")
                return
            }
            pendingOffset += written
            bytesSent += written
            shared.withLock { $0.sentFrames += written / frameBytes }
            if pendingBytes == 0 { dropPending(); publishConsumed() }
        } catch {
            lost("\(error)")
        }
    }

    private func connect() {
        do {
            connection = try SnapcastConnection.open(source.endpoint, timeoutMilliseconds: 2_000)
            blocked = false
            bytesSent = 0
            restartClock()
            if let outage {
                log("snapcast: \(source) is back (was: \(outage))")
                self.outage = nil
                shared.withLock { $0.reconnects += 1 }
            }
            shared.withLock { $0.connected = true; $0.lastError = nil }
            if prerollMilliseconds > 0 {
                append([Int16](repeating: 0, count: source.format.sampleRate * prerollMilliseconds / 1_000 * source.format.channels))
            }
        } catch {
            lost(error.description)
        }
    }

    private func lost(_ reason: String) {
        connection = nil
        blocked = false
        dropPending()
        publishConsumed()
        retryAt = SnapcastOutput.now() + 1_000_000_000
        if outage == nil { log("snapcast: \(reason); the rooms miss this audio, retrying every second") }
        outage = reason
        shared.withLock { $0.connected = false; $0.lastError = reason }
    }

    private func note(problem: String) {
        log("snapcast: \(problem)")
        shared.withLock { $0.lastError = problem }
    }

    private func restartClock() {
        clockStart = SnapcastOutput.now()
        bytesSent = 0
    }

    private func elapsedFrames() -> Int {
        Int((SnapcastOutput.now() &- clockStart) * UInt64(source.format.sampleRate) / 1_000_000_000)
    }

    // MARK: sleeping

    private func sleep() {
        var timeout: Int32 = -1
        var descriptors = [pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)]
        if let connection, pendingBytes > 0 {
            if blocked {
                descriptors.append(pollfd(fd: connection.descriptor.rawValue, events: Int16(POLLOUT), revents: 0))
                timeout = 20
            } else {
                timeout = 2   // the next frames are due within a couple of milliseconds
            }
        } else if let lingerUntil {
            let now = SnapcastOutput.now()
            timeout = now >= lingerUntil ? 0 : Int32(min((lingerUntil - now) / 1_000_000 + 1, 1_000))
        } else if streaming, connection == nil {
            let now = SnapcastOutput.now()
            if now >= retryAt { connect(); return }
            timeout = Int32(min((retryAt - now) / 1_000_000 + 1, 1_000))
        }
        let ready = (try? Syscall.poll(&descriptors, count: descriptors.count, timeoutMilliseconds: timeout)) ?? 0
        if ready > 0, descriptors[0].revents != 0 { wake.clear() }
    }
}
