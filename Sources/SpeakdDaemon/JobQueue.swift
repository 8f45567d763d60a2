import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdText

/// Schedules speak jobs into the player with speech-dispatcher's priority semantics (`PriorityRules`), and reports
/// each job's lifecycle.
///
/// One job at a time is synthesized into the player's ring (the *writer*); as soon as its last sample is written, the
/// next pending job's synthesis begins while earlier ones still play, so consecutive jobs join without a gap. The
/// queue remembers each job's range of ring positions, so a job can be cancelled (or pulled back to wait behind a
/// more urgent one) wherever it is: pending, synthesizing, waiting in the ring, or being heard. A job is `started`
/// when its first sample reaches the device and `finished` when its last has been heard.
///
/// Invariant: a job's final event is sent (and the job forgotten) *before* its audio is discarded, so watchers that
/// see its positions pass never mistake the discard for playback.
///
/// Threading: an actor; all methods are async and may be called from any task.
public actor JobQueue {
    private let player: AudioPlayer
    private let events: EventHub
    private let logger: Logger
    private let archiver: Archiver?
    /// Every job whose final event has not been sent.
    private var unfinished: [String: Job] = [:]
    /// Jobs waiting to be synthesized, in the order they will be heard.
    private var pending: [Job] = []
    /// Jobs with audio in the ring (written or being written), in ring order.
    private var inRing: [Job] = []
    private var writer: (job: Job, task: Task<Void, Never>)?
    private var nextJobNumber = 1
    private var paused = false
    /// A job failed for the device since one last started: the next start is logged as the device's return.
    private var deviceFailing = false

    /// Jobs written ahead into the ring; bounds the player's table of discard ranges.
    static let maximumJobsInRing = 64

    /// Unfinished jobs accepted at most; beyond, `submit` refuses.
    private let maximumJobs: Int

    init(player: AudioPlayer, events: EventHub, logger: Logger, archiver: Archiver? = nil, maximumJobs: Int = 10_000) {
        self.maximumJobs = maximumJobs
        self.player = player
        self.events = events
        self.logger = logger
        self.archiver = archiver
        deviceFailing = player.deviceProblem != nil
    }

    // MARK: requests

    /// Whether another job can be accepted (the queue is bounded so a runaway client cannot exhaust memory).
    var hasRoom: Bool { unfinished.count < maximumJobs }

    /// Accepts a job and answers at once with its id; audio follows. The priority rules may cancel or postpone
    /// other jobs (the reply waits until their audio is silenced) or drop this one (its `cancelled` event says why).
    func submit(_ parameters: SpeakParameters, engine: any Synthesizer, voice: String, model: String,
                fallback: Fallback? = nil, owner: ConnectionID?) async -> String {
        let id = String(nextJobNumber)
        nextJobNumber += 1
        let spec = JobSpec(engine: engine, segments: TextSegmenter().segments(of: parameters.input), voice: voice,
                           model: model, instructions: parameters.instructions, speed: parameters.speed,
                           gain: parameters.volume ?? 1.0, fallback: fallback)
        let job = Job(id: id, sequence: nextJobNumber, parameters: parameters, spec: spec, owner: owner,
                      queuedAt: monotonicSeconds())
        unfinished[id] = job
        emit(job, .queued, priority: parameters.priority)
        if !parameters.play {
            startOffline(job)
            return id
        }

        let admission = PriorityRules.admit(priority: parameters.priority, interrupt: parameters.interrupt,
                                            among: rulesView(excluding: job))
        if let reason = admission.dropReason {
            finalize(job, .cancelled, reason: reason)
            return id
        }
        job.priority = admission.priority
        var tickets: [ControlTicket] = []
        let affected = admission.verdicts.compactMap { id, verdict in unfinished[id].map { ($0, verdict) } }
        for (other, verdict) in affected.sorted(by: { $0.0.sequence < $1.0.sequence }) {
            switch verdict {
            case .cancel(let reason): tickets += end(other, .cancelled, reason: reason)
            case .postpone: tickets += postpone(other)
            }
        }
        enqueue(job)
        if let ttl = parameters.ttl {
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(ttl))
                await self?.expire(id)
            }
        }
        pump()
        for ticket in tickets { await player.waitForControl(ticket) }
        return id
    }

    /// Silences now and drops every job. Returns how many jobs were cancelled. Also ends a pause: a stopped
    /// player is ready for the next job.
    func stop(reason: String) async -> Int {
        let jobs = unfinished.values.sorted { $0.sequence < $1.sequence }
        for job in jobs {
            finalize(job, .cancelled, reason: reason)
            job.offlineTask?.cancel()
        }
        pending.removeAll()
        inRing.removeAll()
        let ticket: ControlTicket
        if let writer {
            // The writer may still put a few samples in before it notices; the open range covers them, and it is
            // closed when the writer ends.
            writer.task.cancel()
            ticket = player.requestDiscard(from: 0, until: nil)
        } else {
            ticket = player.requestDiscard(from: 0, until: player.writePosition)
        }
        var last = ticket
        if paused {
            paused = false
            last = player.requestPause(false)
        }
        await player.waitForControl(last)
        return jobs.count
    }

    /// Cancels one job. Returns 1, 0 when it had already ended, nil when no such job was ever accepted.
    func cancel(_ id: String, reason: String) async -> Int? {
        guard let job = unfinished[id] else {
            guard let number = Int(id), number > 0, number < nextJobNumber else { return nil }
            return 0
        }
        for ticket in end(job, .cancelled, reason: reason) { await player.waitForControl(ticket) }
        pump()
        return 1
    }

    /// Cancels the job being heard (else the next one to be). Returns how many jobs were cancelled (0 or 1).
    func skip() async -> Int {
        guard let job = inRing.first ?? pending.first else { return 0 }
        return await cancel(job.id, reason: "skipped") ?? 0
    }

    func pause() async {
        guard !paused else { return }
        paused = true
        await player.waitForControl(player.requestPause(true))
        if let job = heardJob { emit(job, .paused) }
    }

    func resume() async {
        guard paused else { return }
        paused = false
        await player.waitForControl(player.requestPause(false))
        if let job = heardJob { emit(job, .resumed) }
    }

    /// Unfinished jobs in the order they will be heard.
    func list() -> [JobSummary] {
        let now = monotonicSeconds()
        return (inRing + pending).map { job in
            let state = job.phase == .pending ? "queued"
                : job.startedSent ? (paused ? "paused" : "playing") : "synthesizing"
            return JobSummary(state: state, job: job.id, priority: job.priority, engine: job.spec.engine.engineName,
                              text: String(job.parameters.input.prefix(80)), queuedAt: job.queuedAt,
                              expiresIn: job.startedSent ? nil : job.deadline.map { max($0 - now, 0) })
        }
    }

    struct Snapshot: Sendable {
        var currentJob: String?
        var position: Double?
        var engine: String?
        var paused: Bool
        var queued: Int
    }

    func snapshot() -> Snapshot {
        let job = heardJob ?? inRing.first
        var position: Double?
        if let job, job.startedSent, let start = job.ringStart {
            let format = player.currentFormat
            let heard = player.playedPosition
            position = heard > start ? format.seconds(frames: Int(heard - start) / format.channels) : 0
        }
        return Snapshot(currentJob: job?.id, position: position, engine: job?.spec.engine.engineName, paused: paused,
                        queued: pending.count)
    }

    // MARK: scheduling

    private var heardJob: Job? { inRing.first { $0.startedSent } }

    private func rulesView(excluding newcomer: Job) -> [PriorityRules.Existing] {
        let device = player.devicePosition
        return unfinished.values.filter { $0 !== newcomer && $0.phase != .offline }.map { job in
            let audible = job.startedSent || (job.ringStart.map { device > $0 } ?? false)
            return PriorityRules.Existing(id: job.id, priority: job.priority, requested: job.parameters.priority,
                                          interrupt: job.parameters.interrupt, audible: audible,
                                          inRing: job.phase != .pending)
        }
    }

    private func enqueue(_ job: Job) {
        job.phase = .pending
        let index = pending.firstIndex { ($0.rank, $0.sequence) > (job.rank, job.sequence) } ?? pending.endIndex
        pending.insert(job, at: index)
    }

    /// Starts synthesizing the next pending job if none is being synthesized.
    private func pump() {
        while writer == nil, inRing.count < Self.maximumJobsInRing, !pending.isEmpty {
            let job = pending.removeFirst()
            if let deadline = job.deadline, monotonicSeconds() >= deadline {
                finalize(job, .expired, reason: expiryReason(job))
                continue
            }
            startWriting(job)
        }
    }

    private func startWriting(_ job: Job) {
        job.phase = .writing
        let attempt = job.attempt
        let stream = player.beginStream()
        job.ringStart = stream.startPosition
        job.ringEnd = nil
        inRing.append(job)
        let id = job.id
        let spec = job.spec
        let player = player
        let taps = makeTaps(job, mode: .dropOnLag)
        let task = Task {
            let result = await Self.synthesize(spec, into: player, taps: taps) { error in
                await self.fellBack(id, attempt: attempt, because: error)
            }
            self.writerEnded(id, attempt: attempt, stream: stream, result: result)
        }
        writer = (job, task)
        Task { await self.watchStart(id, attempt: attempt, stream: stream) }
    }

    private func writerEnded(_ id: String, attempt: Int, stream: PlaybackStream, result: SynthesisResult) {
        writer = nil
        guard let job = unfinished[id], job.attempt == attempt else {
            // Cancelled or postponed while writing: its range was opened for discarding; what it wrote is the
            // last of it.
            player.closeOpenDiscard()
            player.endStream()
            pump()
            return
        }
        let start = job.ringStart ?? stream.startPosition
        let end = player.writePosition
        job.ringEnd = end
        job.phase = .written
        player.endStream()
        if case .completed(let format, nil) = result {
            for tap in job.taps { tap.finishInput(format: format) }
        }
        switch result {
        case .cancelled:
            // Only withdrawn jobs are cancelled, and those were handled above; be safe all the same.
            inRing.removeAll { $0 === job }
            finalize(job, .cancelled, reason: "synthesis was cancelled")
        case .completed(let format, let failure):
            if end == start {
                inRing.removeAll { $0 === job }
                if let failure {
                    logger.warning("job failed", metadata: ["job": "\(id)", "reason": "\(failure.message)"])
                    finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
                } else {
                    // Nothing to play (the engine produced no samples): it starts and ends at once.
                    emit(job, .started)
                    finalize(job, .finished, duration: 0)
                }
            } else {
                let duration = format.seconds(frames: Int(end - start) / format.channels)
                Task { await self.watchEnd(id, attempt: attempt, stream: stream, end: end, duration: duration, failure: failure) }
            }
        }
        pump()
    }

    /// Ends `job` with a final event and makes sure none of its audio is heard from now on. Returns the player
    /// requests to wait for (silence), if its audio was in the ring.
    private func end(_ job: Job, _ state: JobState, reason: String, error: ProtocolError? = nil) -> [ControlTicket] {
        finalize(job, state, reason: reason, error: error)
        return withdraw(job)
    }

    /// Takes `job` out of the ring and puts it back among the pending jobs, to be synthesized again after the more
    /// urgent job that displaced it.
    private func postpone(_ job: Job) -> [ControlTicket] {
        let tickets = withdraw(job)
        for tap in job.taps { tap.discard(reason: nil) }
        job.taps = []
        job.attempt += 1
        job.ringStart = nil
        job.ringEnd = nil
        enqueue(job)
        return tickets
    }

    /// Removes `job` from wherever it is and discards its audio.
    private func withdraw(_ job: Job) -> [ControlTicket] {
        switch job.phase {
        case .pending:
            pending.removeAll { $0 === job }
            return []
        case .writing:
            inRing.removeAll { $0 === job }
            writer?.task.cancel()
            return [player.requestDiscard(from: job.ringStart ?? player.writePosition, until: nil)]
        case .written:
            inRing.removeAll { $0 === job }
            guard let start = job.ringStart, let end = job.ringEnd, end > start else { return [] }
            return [player.requestDiscard(from: start, until: end)]
        case .offline:
            job.offlineTask?.cancel()
            return []
        }
    }

    private func expire(_ id: String) async {
        guard let job = unfinished[id], !job.startedSent else { return }
        for ticket in end(job, .expired, reason: expiryReason(job)) { await player.waitForControl(ticket) }
        pump()
    }

    private func expiryReason(_ job: Job) -> String {
        "not started within its ttl of \(job.parameters.ttl.map { "\($0)" } ?? "?") s"
    }

    // MARK: synthesis (off the actor)

    enum SynthesisResult: Sendable {
        /// Every segment was written, or synthesis failed after writing some (`failure`).
        case completed(PCMFormat, failure: SynthesisError?)
        case cancelled
    }

    /// Streams every segment into the player. Runs off the actor: only the player and the taps are touched. Each
    /// chunk goes to the ring first, then to the taps (a copy for the encoder thread: `feed` never waits), as
    /// synthesized, without the job's gain. When the engine fails on a segment before delivering any of it and the
    /// job has a fallback, that segment and the rest are spoken by the fallback engine (`onFallback` is told first,
    /// so the job's events name the engine that is heard).
    private nonisolated static func synthesize(_ spec: JobSpec, into player: AudioPlayer, taps: [EncodingTap],
                                               onFallback: @Sendable (SynthesisError) async -> Void) async -> SynthesisResult {
        var format = PCMFormat.openAISpeech
        var engine = spec.engine
        var voice = spec.voice
        do {
            for segment in spec.segments {
                var delivered = false
                func request() -> SynthesisRequest {
                    SynthesisRequest(input: segment, voice: voice, model: spec.model, instructions: spec.instructions,
                                     speed: spec.speed)
                }
                do {
                    try await engine.synthesize(request()) { chunk in
                        delivered = true
                        format = chunk.format
                        try await player.write(chunk.samples, format: chunk.format, gain: spec.gain)
                        for tap in taps { tap.feed(chunk.samples, format: chunk.format) }
                    }
                } catch let error as SynthesisError where !delivered && spec.fallback != nil && engine.engineName != spec.fallback?.engine.engineName {
                    guard let fallback = spec.fallback else { throw error }
                    await onFallback(error)
                    engine = fallback.engine
                    voice = fallback.voice
                    try await engine.synthesize(request()) { chunk in
                        format = chunk.format
                        try await player.write(chunk.samples, format: chunk.format, gain: spec.gain)
                        for tap in taps { tap.feed(chunk.samples, format: chunk.format) }
                    }
                }
            }
            return .completed(format, failure: nil)
        } catch _ where Task.isCancelled {
            return .cancelled
        } catch let error as SynthesisError {
            return .completed(format, failure: error)
        } catch {
            return .completed(format, failure: SynthesisError(.engine, "\(error)"))
        }
    }

    /// The job's engine failed; the fallback speaks from here on.
    private func fellBack(_ id: String, attempt: Int, because error: SynthesisError) {
        guard let job = unfinished[id], job.attempt == attempt, let fallback = job.spec.fallback else { return }
        job.engineName = fallback.engine.engineName
        job.fallbackReason = "\(job.spec.engine.engineName) failed, so \(job.engineName) spoke instead: \(error.message)"
        logger.warning("upstream failed; the embedded engine speaks instead", metadata: ["job": "\(id)", "error": "\(error.message)"])
    }

    /// Synthesizes a job that is not played straight into its taps, waiting for their encoders (no playback to
    /// protect). Runs off the actor. Returns the result and the frames synthesized.
    private nonisolated static func synthesizeOffline(_ spec: JobSpec, taps: [EncodingTap]) async -> (SynthesisResult, Int) {
        var format = PCMFormat.openAISpeech
        var frames = 0
        do {
            for segment in spec.segments {
                let request = SynthesisRequest(input: segment, voice: spec.voice, model: spec.model,
                                               instructions: spec.instructions, speed: spec.speed)
                try await spec.engine.synthesize(request) { chunk in
                    format = chunk.format
                    frames += chunk.samples.count / chunk.format.channels
                    for tap in taps { await tap.feedWaiting(chunk.samples, format: chunk.format) }
                    try Task.checkCancellation()
                }
            }
            return (.completed(format, failure: nil), frames)
        } catch _ where Task.isCancelled {
            return (.cancelled, frames)
        } catch let error as SynthesisError {
            return (.completed(format, failure: error), frames)
        } catch {
            return (.completed(format, failure: SynthesisError(.engine, "\(error)")), frames)
        }
    }

    // MARK: offline jobs and encoders

    /// The job's taps for a new attempt (kept on the job, committed or discarded by `finalize`).
    private func makeTaps(_ job: Job, mode: EncodingTap.Mode) -> [EncodingTap] {
        guard let archiver else { return [] }
        job.taps = archiver.makeTaps(job: job.id, owner: job.owner, parameters: job.parameters, spec: job.spec,
                                     mode: mode)
        return job.taps
    }

    /// Starts a job that is not played: it never enters the ring nor the priority rules, so the played jobs' order
    /// and timing are untouched.
    private func startOffline(_ job: Job) {
        job.phase = .offline
        let taps = makeTaps(job, mode: .backpressure)
        let spec = job.spec
        let id = job.id
        job.offlineTask = Task {
            let (result, frames) = await Self.synthesizeOffline(spec, taps: taps)
            self.offlineEnded(id, result: result, frames: frames)
        }
    }

    private func offlineEnded(_ id: String, result: SynthesisResult, frames: Int) {
        guard let job = unfinished[id] else { return }
        switch result {
        case .cancelled:
            finalize(job, .cancelled, reason: "synthesis was cancelled")
        case .completed(let format, let failure?):
            _ = format
            finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
        case .completed(let format, nil):
            for tap in job.taps { tap.finishInput(format: format) }
            finalize(job, .finished, duration: format.seconds(frames: frames))
        }
    }

    // MARK: watching playback

    private func watchStart(_ id: String, attempt: Int, stream: PlaybackStream) async {
        let outcome = await player.waitUntilStarted(stream)
        guard let job = unfinished[id], job.attempt == attempt, !job.startedSent else { return }
        switch outcome {
        case .reached:
            job.startedSent = true
            if deviceFailing {
                deviceFailing = false
                logger.notice("the audio device works again", metadata: ["job": "\(id)", "device": "\(player.deviceName)"])
            }
            emit(job, .started)
        case .deviceFailed(let error):
            deviceFailing = true
            logger.error("audio device failed", metadata: ["job": "\(id)", "error": "\(error)"])
            _ = end(job, .failed, reason: error.description, error: ProtocolError(.audioDevice, error.description))
            pump()
        case .cut:
            break
        }
    }

    private func watchEnd(_ id: String, attempt: Int, stream: PlaybackStream, end position: UInt64, duration: Double,
                          failure: SynthesisError?) async {
        let outcome = await player.waitUntilPlayed(position: position, of: stream)
        guard let job = unfinished[id], job.attempt == attempt else { return }
        switch outcome {
        case .reached:
            inRing.removeAll { $0 === job }
            if !job.startedSent {
                job.startedSent = true
                emit(job, .started)
            }
            if let failure {
                finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
            } else {
                finalize(job, .finished, reason: job.fallbackReason, duration: duration)
            }
            pump()
        case .deviceFailed(let error):
            deviceFailing = true
            logger.error("audio device failed while playing", metadata: ["job": "\(id)", "error": "\(error)"])
            _ = end(job, .failed, reason: error.description, error: ProtocolError(.audioDevice, error.description))
            pump()
        case .cut:
            break
        }
    }

    // MARK: events

    private func emit(_ job: Job, _ state: JobState, priority: JobPriority? = nil) {
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(),
                             engine: job.engineName, priority: priority),
                       owner: job.owner)
    }

    /// Sends the job's one final event, unless it was already sent, and forgets the job. Returns whether it sent it.
    @discardableResult
    private func finalize(_ job: Job, _ state: JobState, reason: String? = nil, error: ProtocolError? = nil,
                          duration: Double? = nil) -> Bool {
        guard unfinished.removeValue(forKey: job.id) != nil else { return false }
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(),
                             engine: job.engineName, reason: reason, error: error, duration: duration),
                       owner: job.owner)
        // The archive is kept only for a job heard (or synthesized) to its end: a cancelled, failed or expired
        // job's partial audio is not what was announced, and a postponed job is synthesized again from the start.
        for tap in job.taps {
            if state == .finished { tap.commit() } else { tap.discard(reason: "the job \(state.rawValue)\(reason.map { ": \($0)" } ?? "")") }
        }
        job.taps = []
        logger.debug("job \(state.rawValue)", metadata: ["job": "\(job.id)", "reason": "\(reason ?? "")"])
        return true
    }

    private func protocolError(for error: SynthesisError) -> ProtocolError {
        let code: ProtocolError.Code = switch error.kind {
        case .authentication: .authentication
        case .rejected: .upstreamRejected
        case .unavailable: .upstreamUnavailable
        case .badAudio, .engine: .synthesisFailed
        }
        return ProtocolError(code, error.message)
    }
}
