import SpeakdAudio
import SpeakdProtocol
import SpeakdText

/// Marks inside a job: their positions arrive from the synthesis as each segment completes, a watcher reports each
/// one (`mark` event) when the heard position passes it, and `end_at_mark` cuts the job there.
///
/// Threading: part of the `JobQueue` actor.
extension JobQueue {
    /// The segmenter for a job: its opening and segment sizes follow what is known of the upstream's speed.
    static func segmenter(for input: String, performance: UpstreamPerformance?) -> TextSegmenter {
        var segmenter = TextSegmenter()
        guard let performance else { return segmenter }
        // Only the first sentence's length matters, and a longer one is split anyway: no need to scan all the input.
        let head = Array(input.prefix(segmenter.maxCharacters + 1))
        let firstSentence = segmenter.sentences(head).first.map { String($0).unicodeScalars.count } ?? 0
        let choice = performance.segmenter(firstSentenceCharacters: firstSentence)
        segmenter.openingMinCharacters = choice.openingMin
        segmenter.openingMaxCharacters = min(choice.openingMax, segmenter.maxCharacters)
        segmenter.growth = choice.growth
        if let maximum = choice.maximum { segmenter.maxCharacters = min(maximum, segmenter.maxCharacters) }
        return segmenter
    }

    /// A segment's marks have positions in the ring: record them, and cut the job if it ends at one of them.
    func marksPlaced(_ id: String, attempt: Int, stream: PlaybackStream, _ placed: [(index: Int, position: UInt64)]) {
        guard let job = unfinished[id], job.attempt == attempt else { return }
        for (index, position) in placed where index < job.markPositions.count {
            job.markPositions[index] = position
            Task { await self.watchMark(id, attempt: attempt, stream: stream, position: position) }
        }
        if let mark = job.endMark, job.cutPosition == nil, let position = job.markPositions[mark] {
            cut(job, at: position, stream: stream)
        }
    }

    private func watchMark(_ id: String, attempt: Int, stream: PlaybackStream, position: UInt64) async {
        let outcome = await player.waitUntilPlayed(position: position, of: stream)
        guard outcome == .reached, let job = unfinished[id], job.attempt == attempt else { return }
        reportMarks(job, heardUpTo: position)
    }

    /// Sends `mark` events for the marks placed at or before `position`, in order, each once.
    func reportMarks(_ job: Job, heardUpTo position: UInt64) {
        var limit = job.marksReported
        // A job ending at a mark reports the marks after it never, and that mark itself with its final event.
        let last = job.endMark ?? (job.markPositions.count - 1)
        while limit <= last, let placed = job.markPositions[limit], placed <= position { limit += 1 }
        reportMarks(job, through: limit)
    }

    /// Sends `mark` events for marks `marksReported..<limit` (whatever their positions: the audio before is heard).
    func reportMarks(_ job: Job, through limit: Int) {
        guard limit > job.marksReported else { return }
        if !job.startedSent {
            job.startedSent = true
            emit(job, .started)
        }
        emitMarks(job, through: limit)
    }

    /// `mark` events for marks `marksReported..<limit`, each once, in order.
    private func emitMarks(_ job: Job, through limit: Int) {
        let marks = job.parameters.marks
        while job.marksReported < min(limit, marks.count) {
            emit(job, .mark, mark: marks[job.marksReported].name)
            job.marksReported += 1
        }
    }

    enum EndAtMarkOutcome: Equatable {
        case unknownJob
        /// No such mark is left: the job plays to its end.
        case noMark
        case willEnd(at: String)
    }

    /// Ends `id` at the first of its marks named with `prefix` that has not been reported.
    func endAtMark(_ id: String, prefix: String) async -> EndAtMarkOutcome {
        guard let job = unfinished[id], job.phase != .offline else {
            if let number = Int(id), number > 0, number < nextJobNumber { return .noMark }
            return .unknownJob
        }
        if let chosen = job.endMark { return .willEnd(at: job.parameters.marks[chosen].name) }
        let marks = job.parameters.marks
        guard let index = marks.indices.first(where: { $0 >= job.marksReported && marks[$0].name.hasPrefix(prefix) }) else {
            return .noMark
        }
        job.endMark = index
        switch job.phase {
        case .pending:
            // Nothing synthesized yet; if the mark is at the very start nothing would be heard at all. The marks
            // before it are at the start too (marks are in text order): all are reported, none heard.
            if marks[index].offset <= (job.parameters.input.unicodeScalars.prefix { $0.properties.isWhitespace }.count) {
                pending.removeAll { $0 === job }
                emitMarks(job, through: index + 1)
                finalize(job, .cancelled, reason: "ended at mark \(marks[index].name)", mark: marks[index].name)
            }
        case .writing, .written:
            if index < job.markPositions.count, let position = job.markPositions[index], let stream = job.stream {
                cut(job, at: position, stream: stream)
            }
        case .offline:
            break
        }
        return .willEnd(at: marks[index].name)
    }


    /// Discards the job's audio from `position` (the audio thread fades out before it), and ends the job with its
    /// end mark once that position is heard.
    private func cut(_ job: Job, at position: UInt64, stream: PlaybackStream) {
        job.cutPosition = position
        switch job.phase {
        case .writing:
            writer?.task.cancel()
            _ = player.requestDiscard(from: max(position, job.ringStart ?? position), until: nil, fadingOut: true)
        case .written:
            if let end = job.ringEnd, end > position { _ = player.requestDiscard(from: position, until: end, fadingOut: true) }
            job.ringEnd = position
        case .pending, .offline:
            return
        }
        let id = job.id, attempt = job.attempt
        Task { await self.watchCut(id, attempt: attempt, stream: stream, position: position) }
    }

    private func watchCut(_ id: String, attempt: Int, stream: PlaybackStream, position: UInt64) async {
        let outcome = await player.waitUntilPlayed(position: position, of: stream)
        guard let job = unfinished[id], job.attempt == attempt, let mark = job.endMark else { return }
        switch outcome {
        case .reached:
            inRing.removeAll { $0 === job }
            reportMarks(job, through: mark + 1)
            let name = job.parameters.marks[mark].name
            finalize(job, .cancelled, reason: "ended at mark \(name)", mark: name)
            pump()
        case .deviceFailed(let error):
            deviceFailed(job, error.description, log: "audio device failed while ending at a mark")
        case .cut:
            break
        }
    }
}
