import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdText

/// Admits and orders speak jobs: schedules them into the player with speech-dispatcher's priority semantics (`PriorityRules`), and reports
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
/// The actor is split by job: admission and ordering here; the synthesis of a played job (`JobQueue+Synthesis`) and
/// of an offline one (`JobQueue+Offline`); playback watching (`JobQueue+Watching`, `+Marks`, `+Watchdog`); events
/// (`JobQueue+Events`). Who speaks is decided before (`JobEngine`); errors map in one place (`ErrorMapping`).
///
/// Threading: an actor; all methods are async and may be called from any task.
public actor JobQueue {
    let player: AudioPlayer
    let events: EventHub
    let logger: Logger
    let archiver: Archiver?
    /// Every job whose final event has not been sent.
    var unfinished: [String: Job] = [:]
    /// Jobs waiting to be synthesized, in the order they will be heard.
    var pending: [Job] = []
    /// Jobs with audio in the ring (written or being written), in ring order.
    var inRing: [Job] = []
    var writer: (job: Job, task: Task<Void, Never>)?
    var nextJobNumber = 1
    /// The stall watchdog's loop is running, and what it saw last (job, heard position, since when).
    var watchdogRunning = false
    var stallWatch: (job: String, position: UInt64, since: Double)?
    var paused = false
    /// A job failed for the device since one last started: the next start is logged as the device's return.
    var deviceFailing = false
    /// Demotions of the audio thread by its real-time guard already logged.
    var realtimeDemotionsReported = 0

    /// Jobs written ahead into the ring; bounds the player's table of discard ranges.
    static let maximumJobsInRing = 64

    /// Unfinished jobs accepted at most; beyond, `submit` refuses.
    let maximumJobs: Int

    /// Loudness normalisation for jobs that do not turn it off; nil when the configuration turns it off.
    let loudness: LearnedLoudness?
    /// The configured lead-in (`[audio] lead_in_ms`, `lead_in_after_idle_ms`); a job's `lead_in_ms` replaces its length.
    let leadIn: LeadIn
    /// `[media_roles]`: the stream role of a priority's jobs that name none.
    let mediaRoles: [JobPriority: String]

    init(player: AudioPlayer, events: EventHub, logger: Logger, archiver: Archiver? = nil, maximumJobs: Int = 10_000,
         loudness: LearnedLoudness? = nil, leadIn: LeadIn = LeadIn(), mediaRoles: [JobPriority: String] = [:]) {
        self.mediaRoles = mediaRoles
        self.maximumJobs = maximumJobs
        self.loudness = loudness
        self.leadIn = leadIn
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
    func submit(_ parameters: SpeakParameters, choice: JobEngine, chimes: ChimePlan? = nil, owner: ConnectionID?) async -> String {
        let id = String(nextJobNumber)
        nextJobNumber += 1
        let segments = Self.segmenter(for: parameters.input, performance: choice.performance).segments(of: parameters.input)
        var spec = JobSpec(kind: choice.kind, engine: choice.engine, segments: segments, voice: choice.voice,
                           model: choice.model, instructions: parameters.instructions, speed: parameters.speed,
                           gain: parameters.volume ?? 1.0, fallback: choice.fallback)
        spec.segmentStarts = TextSegmenter.starts(of: segments, in: parameters.input)
        spec.marks = parameters.marks
        spec.performance = choice.performance
        spec.loudness = parameters.normalize == false ? nil : loudness
        spec.chimes = chimes
        let roleName = parameters.mediaRole ?? mediaRoles[parameters.priority]
        spec.role = roleName.flatMap { player.streamRoles.firstIndex(of: $0) } ?? 0
        spec.leadIn = LeadIn(milliseconds: parameters.leadInMilliseconds ?? leadIn.milliseconds,
                             afterIdleMilliseconds: leadIn.afterIdleMilliseconds)
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

    var heardJob: Job? { inRing.first { $0.startedSent } }

    func rulesView(excluding newcomer: Job) -> [PriorityRules.Existing] {
        let device = player.devicePosition
        return unfinished.values.filter { $0 !== newcomer && $0.phase != .offline }.map { job in
            let audible = job.startedSent || (job.ringStart.map { device > $0 } ?? false)
            return PriorityRules.Existing(id: job.id, priority: job.priority, requested: job.parameters.priority,
                                          interrupt: job.parameters.interrupt, audible: audible,
                                          inRing: job.phase != .pending)
        }
    }

    func enqueue(_ job: Job) {
        job.phase = .pending
        let index = pending.firstIndex { ($0.rank, $0.sequence) > (job.rank, job.sequence) } ?? pending.endIndex
        pending.insert(job, at: index)
    }

    /// Starts synthesizing the next pending job if none is being synthesized.
    func pump() {
        while writer == nil, inRing.count < Self.maximumJobsInRing, !pending.isEmpty {
            let job = pending.removeFirst()
            if let deadline = job.deadline, monotonicSeconds() >= deadline {
                finalize(job, .expired, reason: expiryReason(job))
                continue
            }
            startWriting(job)
        }
    }

    /// Ends `job` with a final event and makes sure none of its audio is heard from now on. Returns the player
    /// requests to wait for (silence), if its audio was in the ring.
    func end(_ job: Job, _ state: JobState, reason: String, error: ProtocolError? = nil) -> [ControlTicket] {
        finalize(job, state, reason: reason, error: error)
        return withdraw(job)
    }

    /// Takes `job` out of the ring and puts it back among the pending jobs, to be synthesized again after the more
    /// urgent job that displaced it.
    func postpone(_ job: Job) -> [ControlTicket] {
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
    func withdraw(_ job: Job) -> [ControlTicket] {
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

    func expire(_ id: String) async {
        guard let job = unfinished[id], !job.startedSent else { return }
        for ticket in end(job, .expired, reason: expiryReason(job)) { await player.waitForControl(ticket) }
        pump()
    }

    func expiryReason(_ job: Job) -> String {
        "not started within its ttl of \(job.parameters.ttl.map { "\($0)" } ?? "?") s"
    }
}
