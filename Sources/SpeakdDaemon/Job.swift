import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis

/// What the synthesis task needs of a job: a Sendable snapshot, so it can run off the queue's actor.
///
/// Threading: a value type; Sendable.
struct JobSpec: Sendable {
    /// Which kind of engine speaks it (`JobEngine`): decisions go by this, never by `engine.engineName`.
    let kind: JobEngine.Kind
    let engine: any Synthesizer
    /// The requests the text was split into (each within the upstream's 4096-character limit).
    let segments: [String]
    let voice: String
    let model: String
    let instructions: String?
    let speed: Double?
    /// Linear gain applied as samples enter the ring.
    let gain: Double
    let fallback: Fallback?
    /// Where each segment starts in the job's input, in Unicode scalars.
    var segmentStarts: [Int] = []
    /// The job's marks (offsets into its input), reported as playback reaches them.
    var marks: [SpeakMark] = []
    /// What speakd knows of the upstream's speed (nil for the embedded engine): prefetch and pacing follow it.
    var performance: UpstreamPerformance?
    /// Loudness normalisation: the target and what each voice measured before; nil when the job plays its level as
    /// synthesized.
    var loudness: LearnedLoudness?
    /// Silence written before the job's first sample when the device may be asleep; nil or 0 ms: none.
    var leadIn: LeadIn?
    /// Chimes before and after the speech, ready to play.
    var chimes: ChimePlan?
    /// Its stream's media.role, as an index into `AudioPlayer.streamRoles`.
    var role = 0
}

/// Where a job is on its way to the listener.
enum JobPhase: Equatable {
    /// Waiting for its turn to be synthesized.
    case pending
    /// Its synthesis is streaming into the ring now (at most one job at a time).
    case writing
    /// All its audio is in the ring; it is heard, or waits behind the job being heard.
    case written
    /// Not played (`play: false`): synthesized straight into its encoders, outside the ring and the queue order.
    case offline
}

/// A speak job as the queue holds it, from `queued` to its final event.
///
/// Threading: confined to the `JobQueue` actor (a class so its state can change in place there); never sent.
final class Job {
    let id: String
    /// Arrival order; breaks ties between jobs of equal rank.
    let sequence: Int
    let parameters: SpeakParameters
    let spec: JobSpec
    let owner: ConnectionID?
    let queuedAt: Double
    /// Monotonic seconds after which the job expires if it has not started, from its `ttl`.
    let deadline: Double?
    /// The priority the rules apply: the requested one, except for a progress job promoted to message.
    var priority: JobPriority
    var phase = JobPhase.pending
    /// Bumped each time the job is pulled back out of the ring to be synthesized again later (postponed by a job of
    /// higher priority); watchers of an older attempt ignore what they see.
    var attempt = 0
    var ringStart: UInt64?
    var ringEnd: UInt64?
    /// The current attempt's playback stream, which position waits refer to.
    var stream: PlaybackStream?
    /// The `started` event has been sent: its first sample reached the device.
    var startedSent = false
    /// The player's underrun count when the job started playing, to tell whether the device ran dry during it.
    var underrunsAtStart: Int?
    /// The current attempt's segments: asked for, arrived, began to play (logged when the device ran dry).
    var timeline: SegmentTimeline?
    /// Who speaks it: its engine, or the fallback after the engine failed.
    var engineName: String
    /// Why the fallback engine took over, if it did.
    var fallbackReason: String?
    /// The current attempt's encoders (archive file, save stream); committed when the job finishes, discarded
    /// otherwise.
    var taps: [EncodingTap] = []
    /// The synthesis of an `offline` job.
    var offlineTask: Task<Void, Never>?
    /// Ring positions of the current attempt's marks, as each segment's audio is complete (index = mark index).
    var markPositions: [UInt64?] = []
    /// Marks reported so far (`mark` events sent), in order.
    var marksReported = 0
    /// `end_at_mark`: the index of the mark the job ends at, once chosen.
    var endMark: Int?
    /// Where the job's audio is cut for `endMark`, once that mark's position is known.
    var cutPosition: UInt64?

    init(id: String, sequence: Int, parameters: SpeakParameters, spec: JobSpec, owner: ConnectionID?, queuedAt: Double) {
        self.id = id
        self.sequence = sequence
        self.parameters = parameters
        self.spec = spec
        self.owner = owner
        self.queuedAt = queuedAt
        self.deadline = parameters.ttl.map { queuedAt + $0 }
        self.priority = parameters.priority
        self.engineName = spec.engine.engineName
    }

    var rank: Int { PriorityRules.rank(of: priority, interrupt: parameters.interrupt) }
}
