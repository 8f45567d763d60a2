import SpeakdAudio
import SpeakdCore
import SpeakdEncoding
import Synchronization

/// Encodes one job's PCM into one destination (an archive file or a client's save stream) on the encoder thread
/// (`EncoderThread`, off the writer and the audio path), fed with copies of the chunks the writer task hands the player.
///
/// The writer is never blocked by the encoder: played jobs use `.dropOnLag`, where
/// `feed` only copies the samples and enqueues them; if more than `maximumLag` seconds of audio wait for the encoder,
/// the tap fails (the archive, never playback). Jobs that are not played use `.backpressure`: `feedWaiting` suspends
/// the synthesis until the encoder catches up.
///
/// Lifecycle: `feed…` any number of times, then `finishInput` (synthesis complete), then `commit` (job finished) or
/// `discard` (any other end) at any time. The outcome (`saved` or `failed`) is reported once, through `report`, on
/// the tap's queue; a failure is reported as soon as it happens (disk full while the job still plays).
///
/// Threading: Sendable; every method may be called from any task or thread and returns without waiting for the
/// encoder (except `feedWaiting`, which suspends). The destination and the encoder are confined to the queue.
final class EncodingTap: Sendable {
    enum Mode: Sendable {
        /// Fail when more than `maximumLag` seconds of audio wait for the encoder (played jobs).
        case dropOnLag
        /// Make the producer wait instead (jobs synthesized only for the archive or the client).
        case backpressure
    }

    enum Outcome: Sendable {
        case saved(path: String?)
        case failed(reason: String)
    }

    private struct State {
        var pendingSamples = 0
        var failed = false
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let mode: Mode
    /// Seconds of audio the encoder may fall behind before a `.dropOnLag` tap fails.
    let maximumLag: Double
    private let queue: EncoderThread
    private let state = Mutex(State())
    private let worker: Worker

    /// `queue` runs work in order, so what an abandoned tap (a postponed job's attempt) still had queued runs before
    /// the next attempt's first chunk.
    init(destination: any TapDestination, format: ArchiveFormat, settings: EncoderSettings, tags: Tags, mode: Mode,
         queue: EncoderThread, maximumLag: Double = 10, report: @escaping @Sendable (Outcome) -> Void) {
        self.mode = mode
        self.maximumLag = maximumLag
        self.queue = queue
        self.worker = Worker(destination: destination, format: format, settings: settings, tags: tags, report: report)
    }

    /// Copies `samples` for the encoder and returns at once. In `.dropOnLag`, fails the tap if the encoder is more
    /// than `maximumLag` seconds behind.
    func feed(_ samples: [Int16], format: PCMFormat) {
        let limit = Int(maximumLag * Double(format.sampleRate)) * format.channels
        let verdict: Bool? = state.withLock { state in
            guard !state.closed, !state.failed else { return nil }
            // An encoder with nothing waiting is not behind, however large the chunk.
            if mode == .dropOnLag, state.pendingSamples > 0, state.pendingSamples + samples.count > limit {
                state.failed = true
                return false
            }
            state.pendingSamples += samples.count
            return true
        }
        switch verdict {
        case nil: return
        case false?:
            let seconds = Int(maximumLag)
            queue.async { [worker] in
                worker.fail("the encoder fell more than \(seconds) s of audio behind playback")
            }
        case true?:
            let copy = samples
            queue.async { [worker, self] in
                worker.encode(copy, format: format)
                self.consumed(copy.count)
            }
        }
    }

    /// `feed`, after waiting until the encoder has less than `maximumLag` seconds of audio waiting.
    func feedWaiting(_ samples: [Int16], format: PCMFormat) async {
        let limit = Int(maximumLag * Double(format.sampleRate)) * format.channels
        while true {
            let ready: Bool = state.withLock { $0.closed || $0.failed || $0.pendingSamples < limit }
            if ready { break }
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.closed || state.failed || state.pendingSamples < limit { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        feed(samples, format: format)
    }

    /// Synthesis ended with every sample fed: the encoder writes its trailer. `format` opens an empty file when no
    /// sample ever came.
    func finishInput(format: PCMFormat) {
        queue.async { [worker] in worker.finish(fallback: format) }
    }

    /// The job finished: the destination is made final (`saved`), unless the tap failed.
    func commit() {
        close()
        queue.async { [worker] in worker.commit() }
    }

    /// The job ended otherwise (or is being synthesized again): the destination is abandoned. `reason` is reported
    /// as the failure, unless nil (a postponed attempt, whose replacement reports instead).
    func discard(reason: String?) {
        close()
        queue.async { [worker] in worker.discard(reason: reason) }
    }

    private func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func consumed(_ count: Int) {
        let waiters = state.withLock { state in
            state.pendingSamples -= count
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The encoder and its destination. Threading: confined to the tap's queue (hence unchecked Sendable).
    private final class Worker: @unchecked Sendable {
        let destination: any TapDestination
        let format: ArchiveFormat
        let settings: EncoderSettings
        let tags: Tags
        let report: @Sendable (Outcome) -> Void
        var encoder: (any AudioEncoder)?
        var input: PCMFormat?
        var finished = false
        var done = false

        init(destination: any TapDestination, format: ArchiveFormat, settings: EncoderSettings, tags: Tags,
             report: @escaping @Sendable (Outcome) -> Void) {
            self.destination = destination
            self.format = format
            self.settings = settings
            self.tags = tags
            self.report = report
        }

        func encode(_ samples: [Int16], format pcm: PCMFormat) {
            guard !done, !finished else { return }
            do throws(EncoderError) {
                let encoder = try open(pcm)
                guard pcm == input else {
                    throw EncoderError(.invalidSettings, "the audio changed from \(input!) to \(pcm) within the job")
                }
                try encoder.encode(samples)
            } catch {
                fail(error.message)
            }
        }

        func finish(fallback: PCMFormat) {
            guard !done, !finished else { return }
            do throws(EncoderError) {
                try open(fallback).finish()
                finished = true
            } catch {
                fail(error.message)
            }
        }

        func commit() {
            guard !done else { return }

            guard finished else { return fail("the job ended before its audio was complete") }
            do throws(EncoderError) {
                let path = try destination.commit()
                done = true
                report(.saved(path: path))
            } catch {
                fail(error.message)
            }
        }

        func discard(reason: String?) {
            guard !done else { return }
            done = true
            destination.discard()
            if let reason { report(.failed(reason: reason)) }
        }

        func fail(_ reason: String) {
            guard !done else { return }
            done = true
            destination.discard()
            report(.failed(reason: reason))
        }

        private func open(_ pcm: PCMFormat) throws(EncoderError) -> any AudioEncoder {
            if let encoder { return encoder }
            try destination.prepare()
            let made = try format.makeEncoder(input: pcm, settings: settings, tags: tags, sink: destination.sink)
            encoder = made
            input = pcm
            return made
        }
    }
}

/// Where a tap's encoder writes, and what committing it means.
///
/// Threading: confined to the tap's queue, like the encoder writing into `sink`.
protocol TapDestination: AnyObject {
    /// Gets the destination ready (creates the file); called before the encoder opens. `sink` is valid after it.
    func prepare() throws(EncoderError)
    var sink: any EncodedSink { get }
    /// Makes the output final; returns the path it now has, if it is a file.
    func commit() throws(EncoderError) -> String?
    /// Abandons the output. Never throws.
    func discard()
}
