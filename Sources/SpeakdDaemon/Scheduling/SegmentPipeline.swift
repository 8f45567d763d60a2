import SpeakdCore
import SpeakdProcessing
import Synchronization
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdText

/// Plays a job's segments in order while requesting the next ones ahead, so each arrives before the one before it
/// has played out.
///
/// Policy: each segment is requested once the one before it has delivered its first audio and then paused (on a
/// CPU-bound server a second request waiting for its first byte would slow the one needed next, the first sound above
/// all, and one landing mid-send can hold the end of that send back), while earlier ones may still be
/// streaming: at most `maximumInFlight` requests run (3 when the upstream is slow to start
/// or delivers slower than real time, else 2) and at most `maximumAheadSeconds` of audio waits in the feeds. An
/// upstream configured with `concurrent_requests = N` gets up to N requests at once from the start. Before a segment
/// starts playing, if the upstream delivers slower than real time, it waits until enough of it is buffered to play
/// through: the pause falls between sentences, never inside one.
/// When a segment's audio is complete, its marks are placed (`MarkTiming`) and handed to `onMarks` as ring positions.
///
/// Threading: `run` executes on the writer task, off the queue's actor; the feeds' tasks run beside it. The
/// controller's state is behind a mutex.
struct SegmentPipeline: Sendable {
    let spec: JobSpec
    let player: AudioPlayer
    /// Where each chunk goes (the ring, and the job's encoders beside it).
    let delivery: JobDelivery
    let onFallback: @Sendable (SynthesisError) async -> Void
    let onMarks: @Sendable ([(index: Int, position: UInt64)]) async -> Void
    /// When each segment was asked for, arrived and began to play (for the log when the device runs dry).
    var timeline = SegmentTimeline()

    static let maximumAheadSeconds = 60.0
    static let pacingMarginSeconds = 0.2

    private final class Controller: Sendable {
        struct State {
            var feeds: [SegmentFeed?]
            var engine: any Synthesizer
            var voice: String
            var fellBack = false
            /// Segments the writer has finished with.
            var consumed = 0
            /// The next segment to request.
            var nextToLaunch = 0
        }
        let state: Mutex<State>
        let spec: JobSpec

        init(spec: JobSpec) {
            self.spec = spec
            state = Mutex(State(feeds: Array(repeating: nil, count: spec.segments.count), engine: spec.engine,
                                voice: spec.voice))
        }

        func request(_ index: Int, voice: String) -> SynthesisRequest {
            SynthesisRequest(input: spec.segments[index], voice: voice, model: spec.model,
                             instructions: spec.instructions, speed: spec.speed)
        }

        var maximumInFlight: Int { spec.performance?.maximumInFlight ?? 2 }

        /// The feed of segment `index`, started now if it was not yet.
        func feed(_ index: Int) -> SegmentFeed {
            let (feed, start) = state.withLock { state -> (SegmentFeed, Speaker?) in
                if let feed = state.feeds[index] { return (feed, nil) }
                let feed = SegmentFeed(index: index)
                state.feeds[index] = feed
                state.nextToLaunch = max(state.nextToLaunch, index + 1)
                return (feed, Speaker(state))
            }
            if let start { launch(feed, by: start) }
            return feed
        }

        /// Who speaks the segments launched now: the job's engine, or the fallback once it took over (whose speed
        /// the upstream's performance model must not learn).
        struct Speaker {
            let engine: any Synthesizer
            let voice: String
            let fellBack: Bool
            init(_ state: State) { (engine, voice, fellBack) = (state.engine, state.voice, state.fellBack) }
        }

        private func launch(_ feed: SegmentFeed, by speaker: Speaker) {
            let performance = speaker.fellBack ? nil : spec.performance
            feed.start(request(feed.index, voice: speaker.voice), engine: speaker.engine, performance: performance) { [self] in
                considerNext()
            }
        }

        /// Requests the next segment when the policy allows it.
        func considerNext() {
            let next: (SegmentFeed, Speaker)? = state.withLock { state in
                let index = state.nextToLaunch
                guard index < state.feeds.count else { return nil }
                let running = state.feeds.compactMap { $0 }.filter { !$0.state.done }.count
                guard running < maximumInFlight else { return nil }
                // Unless the server is known to serve requests side by side, one request at a time waits for its first
                // audio: on a CPU-bound server a second one would slow the one needed next (the first sound above all).
                // It waits further until that one pauses (sent nothing for 40 ms) or ends: a request landing while a
                // server still sends the one before can hold that one's end back behind its own first sentence (Kokoro
                // under load: a sentence's last piece came 3.5 s late and the device ran dry inside its last word).
                if index > 0, spec.performance?.servesConcurrently != true, let previous = state.feeds[index - 1],
                   !previous.state.paused { return nil }
                let waiting = state.feeds[min(state.consumed, index)..<index].compactMap { $0?.state.bufferedSeconds }.reduce(0, +)
                guard waiting < SegmentPipeline.maximumAheadSeconds else { return nil }
                let feed = SegmentFeed(index: index)
                state.feeds[index] = feed
                state.nextToLaunch = index + 1
                return (feed, Speaker(state))
            }
            if let (feed, speaker) = next { launch(feed, by: speaker) }
        }

        /// The writer finished segment `index`.
        func consumed(_ index: Int) {
            state.withLock { state in
                state.consumed = index + 1
                state.feeds[index] = nil
            }
            considerNext()
        }

        /// The engine failed on `index` before any audio: the fallback speaks it and the rest. Segments requested
        /// ahead from the failing engine are withdrawn.
        func fallBack(from index: Int, to fallback: Fallback) -> SegmentFeed {
            let stale: [SegmentFeed] = state.withLock { state in
                state.engine = fallback.engine
                state.voice = fallback.voice
                state.fellBack = true
                let stale = state.feeds[index...].compactMap { $0 }
                for position in index..<state.feeds.count { state.feeds[position] = nil }
                state.nextToLaunch = index
                return stale
            }
            for feed in stale { feed.cancel() }
            return feed(index)
        }

        var engineIsFallback: Bool { state.withLock { $0.fellBack } }

        /// Who speaks now, for the learned loudness: the upstream's name (or the engine's) and the voice.
        var currentVoice: String {
            state.withLock { LearnedLoudness.key(source: $0.fellBack ? $0.engine.engineName : spec.performance?.name ?? $0.engine.engineName,
                                                 voice: $0.voice) }
        }

        func cancelAll() {
            let feeds = state.withLock { $0.feeds.compactMap { $0 } }
            for feed in feeds { feed.cancel() }
        }
    }

    func run() async -> SynthesisResult {
        let controller = Controller(spec: spec)
        defer { controller.cancelAll() }
        // Post-processing between the engine and the ring (gain; the device's format when one is fixed).
        let chain = ProcessingChain.playback(gain: spec.gain, deviceFormat: player.deviceFormat)
        var format = PCMFormat.openAISpeech
        var index = 0
        var loudness = LoudnessStage(spec: spec)
        defer { loudness.record() }
        var leadInDecided = false
        // After a chime or a segment, until the next segment's first samples: the device running dry is a pause between
        // sentences (a late upstream or pacing), not an underrun inside one.
        var holding = false
        defer { if holding { player.holdBack(false) } }
        // When the audio written so far runs out (monotonic seconds), from the end of the last segment.
        var runsOutAt: Double?
        do {
            if let chime = spec.chimes, chime.before != nil {
                _ = controller.feed(0)   // the first segment is synthesized while the chime plays
                leadInDecided = true
                try await playChimeBefore(chime, chain: chain)
                holding = true
                player.holdBack(true)
            }
            while index < spec.segments.count {
                let feed = controller.feed(index)
                controller.considerNext()
                var delivered = false
                var segmentStart: UInt64?
                var collected: [Int16] = []
                var wordStarts: [WordStart] = []
                let markIndices = marks(inSegment: index)
                var entry = SegmentTimeline.Entry(index: index, characters: spec.segments[index].unicodeScalars.count)
                do {
                    let waitBegan = monotonicSeconds()
                    if await waitUntilPlayableThrough(feed, segment: index) {
                        entry.heldSeconds = monotonicSeconds() - waitBegan
                        holding = true
                    }
                    for try await chunk in feed.chunks {
                        try Task.checkCancellation()
                        let now = monotonicSeconds()
                        let pause = runsOutAt.map { max(now - $0, 0) } ?? 0
                        runsOutAt = nil
                        if segmentStart == nil {
                            segmentStart = player.writePosition
                            (entry.startPosition, entry.writtenAt, entry.aheadSeconds) = (player.writePosition, now, secondsAhead)
                            entry.pauseBefore = pause
                        } else if pause >= UpstreamPerformance.audiblePauseSeconds {
                            entry.pausesWithin.append(pause)
                        }
                        delivered = true
                        format = chunk.format
                        // Loudness first (it measures what the engine made), then the chain (volume, device format).
                        let normalized = loudness.process(chunk.samples, format: chunk.format, voice: controller.currentVoice)
                        let played = try chain.process(AudioChunk(format: chunk.format, samples: normalized,
                                                                  wordStarts: chunk.wordStarts))
                        if !leadInDecided {
                            // Decided at the first sample, in its format (a change of format would reopen the device).
                            leadInDecided = true
                            if let silence = spec.leadIn?.silence(format: played.format, player: player) {
                                try await delivery.deliver(silence, synthesized: nil)
                            }
                        }
                        try await delivery.deliver(played, synthesized: chunk)
                        // Written audio that ends in silence may wait for the next chunk: a pause, not a cut in a word.
                        let pausable = played.samples.isEmpty ? holding : played.endsInSilence()
                        if pausable != holding {
                            holding = pausable
                            player.holdBack(pausable)
                        }
                        if pausable { runsOutAt = monotonicSeconds() + secondsAhead }
                        feed.taken(seconds: chunk.format.seconds(frames: chunk.samples.count / max(chunk.format.channels, 1)))
                        if !markIndices.isEmpty {
                            collected += played.samples
                            wordStarts += played.wordStarts
                        }
                    }
                    let held = loudness.endSegment()
                    if !held.isEmpty {
                        let played = try chain.process(AudioChunk(format: format, samples: held))
                        try await delivery.deliver(played, synthesized: nil)
                        if !markIndices.isEmpty { collected += played.samples }
                    }
                    if let tail = try chain.flush() {
                        try await delivery.deliver(tail, synthesized: nil)
                        if !markIndices.isEmpty { collected += tail.samples }
                    }
                } catch let error as SynthesisError where !delivered && !controller.engineIsFallback && spec.fallback != nil {
                    // Only an upstream job has a fallback (`JobEngine`), so the embedded engine never falls back to itself.
                    guard let fallback = spec.fallback else { throw error }
                    await onFallback(error)
                    _ = controller.fallBack(from: index, to: fallback)
                    continue
                }
                timeline.record(entry.completed(by: feed.state))
                if index + 1 < spec.segments.count {
                    holding = true
                    player.holdBack(true)
                    runsOutAt = monotonicSeconds() + secondsAhead
                }
                try Task.checkCancellation()
                if !markIndices.isEmpty {
                    await onMarks(place(markIndices, segment: index, start: segmentStart ?? player.writePosition,
                                        samples: collected, wordStarts: wordStarts, format: chain.outputFormat(for: format)))
                }
                controller.consumed(index)
                index += 1
            }
            // Marks at the very end of the input (after the last segment's text).
            let trailing = spec.marks.indices.filter { spec.marks[$0].offset >= endOfText }
            if !trailing.isEmpty { await onMarks(trailing.map { ($0, player.writePosition) }) }
            if !controller.engineIsFallback { spec.performance?.recordPauses(of: timeline.all) }
            if let chime = spec.chimes, let after = chime.after {
                try await delivery.deliver(try chain.process(AudioChunk(format: chime.format, samples: after)), synthesized: nil)
            }
            return .completed(format, failure: nil)
        } catch {
            return .ended(by: error, format: format)
        }
    }

    // MARK: pacing

    /// Holds a segment back while the upstream delivers slower than real time and too little of it is buffered to
    /// play through: with `r` seconds of audio per second, a segment of `D` seconds plays without a gap once
    /// `D · (1 − r)` is buffered, counting what arrives while the ring's earlier audio plays.
    /// Returns whether it held the segment back (the caller releases the hold once it writes audio that does not end
    /// in silence).
    private func waitUntilPlayableThrough(_ feed: SegmentFeed, segment index: Int) async -> Bool {
        guard let performance = spec.performance else { return false }
        let model = performance.model
        guard model.observations > 0, model.arrivalRate < 1 else { return false }
        let speed = spec.speed ?? 1
        let duration = Double(spec.segments[index].unicodeScalars.count) * model.audioPerCharacter / speed
        // Audio arrives in chunks, not evenly: a margin of one typical chunk interval keeps the first one from running dry.
        let needed = duration * (1 - model.arrivalRate) + Self.pacingMarginSeconds
        var held = false
        while !Task.isCancelled {
            let progress = feed.state
            if progress.done { return held }
            if progress.bufferedSeconds + model.arrivalRate * secondsAhead >= needed { return held }
            player.holdBack(true)
            held = true
            try? await Task.sleep(for: .milliseconds(20))
        }
        return held
    }

    /// Seconds of audio in the ring not yet heard.
    private var secondsAhead: Double {
        let format = player.currentFormat
        return format.seconds(frames: Int(player.writePosition &- player.playedPosition) / max(format.channels, 1))
    }

    // MARK: marks

    private var endOfText: Int {
        guard let last = spec.segmentStarts.last, let text = spec.segments.last else { return 0 }
        return last + text.unicodeScalars.count
    }

    /// Indices of the marks heard during segment `index`: from its start to the next segment's start (a mark in the
    /// space between is placed at this segment's end); marks past the last segment's text are placed at the job's end.
    private func marks(inSegment index: Int) -> [Int] {
        guard !spec.marks.isEmpty, index < spec.segmentStarts.count else { return [] }
        let lower = index == 0 ? Int.min : spec.segmentStarts[index]
        let upper = index + 1 < spec.segmentStarts.count ? spec.segmentStarts[index + 1] : endOfText
        return spec.marks.indices.filter { spec.marks[$0].offset >= lower && spec.marks[$0].offset < upper }
    }

    /// Ring positions of the marks: at the engine's own word starts when it gave them (the first word at or after
    /// the mark; the end when none follows), else estimated from the text and the audio (`MarkTiming`).
    private func place(_ indices: [Int], segment index: Int, start: UInt64, samples: [Int16], wordStarts: [WordStart],
                       format: PCMFormat) -> [(index: Int, position: UInt64)] {
        let offsets = indices.map { max(spec.marks[$0].offset - spec.segmentStarts[index], 0) }
        let totalFrames = samples.count / max(format.channels, 1)
        let frames = wordStarts.isEmpty
            ? MarkTiming.frames(forOffsets: offsets, in: spec.segments[index], samples: samples,
                                channels: format.channels, sampleRate: format.sampleRate)
            : offsets.map { offset in min(wordStarts.first { $0.textOffset >= offset }?.frame ?? totalFrames, totalFrames) }
        return zip(indices, frames).map { ($0, start + UInt64($1 * format.channels)) }
    }
}
