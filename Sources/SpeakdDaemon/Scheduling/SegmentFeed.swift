import SpeakdCore
import Synchronization
import SpeakdAudio
import SpeakdSynthesis

/// One segment's synthesis, started ahead of playback: its audio is buffered until the writer plays it.
///
/// Threading: Sendable. The producing task (`run`) and the one consumer (`chunks`) may be on different tasks; the
/// counters are behind a mutex.
final class SegmentFeed: Sendable {
    let index: Int
    let chunks: AsyncThrowingStream<AudioChunk, any Error>
    private let continuation: AsyncThrowingStream<AudioChunk, any Error>.Continuation
    private let progress = Mutex(Progress())
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let pauseWatcher = Mutex<Task<Void, Never>?>(nil)

    struct Progress {
        /// Audio delivered by the engine and not yet taken by the writer, in seconds.
        var bufferedSeconds = 0.0
        /// When it was asked for, its chunks and when they came (for the job's timeline too).
        var arrival = SegmentTimeline.Arrival()
        var lastChunkAt = 0.0
        /// After its first audio, the engine sent nothing for `pausedAfterSeconds`.
        var fellQuiet = false

        var done: Bool { arrival.doneAt != nil }
        /// Whatever the engine had ready has arrived: it fell quiet after its first audio, or it is done.
        var paused: Bool { fellQuiet || done }
    }

    /// Quiet time after a chunk that counts as the engine pausing: Kokoro sends a sentence's pieces within 10 ms of
    /// each other, a streaming upstream every 20–125 ms while it has audio ready (at 66 ms, the request after it waits
    /// 40 ms more than at the first audio).
    static let pausedAfterSeconds = 0.04

    /// The writer takes audio in slices of at most a tenth of a second: a phrase-cache hit or an embedded sentence
    /// arrives as one chunk of seconds, and normalising its loudness whole before the first of it reached the ring
    /// delayed a cache hit's first sound by 6.6 ms.
    static let slicesPerSecond = 10
    /// A segment's first slice is shorter (20 ms): the writer's processing of a slice (the limiter above all) costs in
    /// proportion to its length, and only the first one stands between the audio and its first sound.
    static let firstSlicesPerSecond = 50

    init(index: Int) {
        self.index = index
        (chunks, continuation) = AsyncThrowingStream.makeStream(bufferingPolicy: .unbounded)
    }

    var state: Progress { progress.withLock { $0 } }

    /// Starts synthesizing `request` with `engine`; `onProgress` is called (off any lock) when the first audio
    /// arrives, when the engine first pauses after it (`Progress.paused`) and when synthesis ends, so the next segment
    /// can be requested.
    func start(_ request: SynthesisRequest, engine: any Synthesizer, performance: UpstreamPerformance?,
               onProgress: @escaping @Sendable () -> Void) {
        let began = monotonicSeconds()
        progress.withLock { $0.arrival.requestedAt = began }
        let requestNumber = performance?.beginRequest()
        let handle = Task {
            var firstAt: Double?
            var lastAt = began
            var frames = 0
            var firstFrames = 0
            var rate = 24_000
            do {
                try await engine.synthesize(request) { chunk in
                    let now = monotonicSeconds()
                    let seconds = chunk.format.seconds(frames: chunk.samples.count / max(chunk.format.channels, 1))
                    let first = firstAt == nil
                    self.progress.withLock { state in
                        state.bufferedSeconds += seconds
                        state.arrival.audioSeconds += seconds
                        state.arrival.chunks += 1
                        if first {
                            state.arrival.firstAudioAt = now
                        } else {
                            state.arrival.longestChunkWait = max(state.arrival.longestChunkWait, now - lastAt)
                        }
                        state.lastChunkAt = now
                    }
                    if let performance, let requestNumber {
                        if first {
                            performance.noteFirstAudio(request: requestNumber, at: now)
                        } else {
                            performance.noteResumed(request: requestNumber, at: now, waited: now - lastAt)
                        }
                    }
                    if first {
                        firstAt = now
                        firstFrames = chunk.samples.count / max(chunk.format.channels, 1)
                    }
                    lastAt = now
                    frames += chunk.samples.count / max(chunk.format.channels, 1)
                    rate = chunk.format.sampleRate
                    let sliceFrames = chunk.format.sampleRate / Self.slicesPerSecond
                    for slice in chunk.split(maxFrames: sliceFrames,
                                             firstFrames: first ? chunk.format.sampleRate / Self.firstSlicesPerSecond : nil) {
                        self.continuation.yield(slice)
                    }
                    if first {
                        onProgress()
                        self.watchForPause(then: onProgress)
                    }
                }
                progress.withLock { $0.arrival.doneAt = monotonicSeconds() }
                continuation.finish()
                // A phrase-cache hit answers within milliseconds: only the upstream's own answers teach the model.
                // The delivery rate counts the audio after the first chunk over the time after it.
                if let performance, let firstAt, firstAt - began > 0.02, frames > 0 {
                    let speed = request.speed ?? 1
                    performance.record(.init(characters: request.input.unicodeScalars.count, firstByte: firstAt - began,
                                             audioSeconds: Double(frames) / Double(rate) * speed,
                                             streamSeconds: max(lastAt - firstAt, 0.001),
                                             laterAudioSeconds: Double(frames - firstFrames) / Double(rate) * speed))
                }
            } catch {
                progress.withLock { $0.arrival.doneAt = monotonicSeconds() }
                continuation.finish(throwing: error)
            }
            onProgress()
        }
        task.withLock { $0 = handle }
    }

    /// Sets `paused` and calls `onProgress` once the engine has sent nothing for `pausedAfterSeconds`, unless it
    /// ends first (its end calls `onProgress` itself).
    private func watchForPause(then onProgress: @escaping @Sendable () -> Void) {
        let watcher = Task {
            while !Task.isCancelled {
                // Sleeps until `pausedAfterSeconds` after the last chunk, then looks again: exact, with no polling.
                let wait = progress.withLock { state -> Double? in
                    if state.done { return nil }
                    let quiet = monotonicSeconds() - state.lastChunkAt
                    if quiet >= Self.pausedAfterSeconds { state.fellQuiet = true }
                    return Self.pausedAfterSeconds - quiet
                }
                guard let wait else { return }
                if wait <= 0 {
                    onProgress()
                    return
                }
                try? await Task.sleep(for: .microseconds(Int(wait * 1_000_000) + 500))
            }
        }
        pauseWatcher.withLock { $0 = watcher }
    }

    /// The writer took `seconds` of audio out of the buffer.
    func taken(seconds: Double) {
        progress.withLock { $0.bufferedSeconds = max($0.bufferedSeconds - seconds, 0) }
    }

    func cancel() {
        task.withLock { $0 }?.cancel()
        pauseWatcher.withLock { $0 }?.cancel()
        continuation.finish(throwing: CancellationError())
    }
}
