/// Protocol version spoken by this build. A request may carry `"v": N`; the daemon refuses versions it does not know.
public let speakdProtocolVersion = 1

/// How a job treats others, with the semantics of speech-dispatcher's SSIP priorities (docs/protocol.md).
public enum JobPriority: String, Sendable, Codable, CaseIterable, Equatable {
    /// Never interrupted; cancels what is speaking (unless important), postpones waiting message and text jobs,
    /// cancels notification and progress jobs.
    case important
    /// Queues behind other messages; cancels text, notification and progress jobs.
    case message
    /// Interrupts itself: a new text job cancels older ones; also cancels notification and progress jobs.
    case text
    /// Dropped when anything else is pending or speaking; a new one cancels an older one.
    case notification
    /// Like notification, except that new ones are dropped while one speaks, and the last one is spoken (as a
    /// message) once it ends.
    case progress
}

/// Parameters of a speak job. Field names and constraints follow `CreateSpeechRequest` of the OpenAI contract, except
/// that `input` may be longer than one upstream request (the daemon splits it).
///
/// Threading: a value type; Sendable.
public struct SpeakParameters: Sendable, Equatable {
    public var input: String
    public var voice: String?
    public var model: String?
    public var instructions: String?
    public var speed: Double?
    /// A configured upstream's name; the default upstream when nil.
    public var upstream: String?
    public var priority: JobPriority
    /// Linear gain applied in the audio path, 0…2 (1 keeps the synthesized level); clipping-safe.
    public var volume: Double?
    /// Seconds after which the job, if it has not started playing, is dropped with an `expired` event.
    public var ttl: Double?
    /// Cancel what is speaking (unless it is important) and speak this next.
    public var interrupt: Bool
    /// Archive this job in the daemon's archive directory (true), or not (false); nil follows the daemon's
    /// configuration (on when an archive directory is configured).
    public var archive: Bool?
    /// Stream the job's audio back to this connection encoded in this format (`audio` events): what
    /// `speakctl --save` writes into its own file.
    public var save: SaveFormat?
    /// Play the job (default). `false` synthesizes it for `save` or `archive` only, outside the player's queue.
    public var play: Bool
    /// Use the phrase cache (default): `false` always asks the upstream and stores nothing.
    public var cache: Bool
    /// Places in `input` to report (`mark` events) when playback reaches them, in order.
    public var marks: [SpeakMark]
    /// Bring the speech to the daemon's loudness target (`normalize` in the configuration); nil follows the
    /// configuration, false plays the level as synthesized (`volume` still applies).
    public var normalize: Bool?
    /// Milliseconds of silence before the job when the output may be asleep (`lead_in_ms`); nil follows the
    /// configuration, 0 turns it off for this job.
    public var leadInMilliseconds: Int?
    /// A chime played before the speech (`chime`: a built-in name or an absolute path to a sound file); nil follows
    /// the configuration's chime for the job's priority, "" plays none.
    public var chime: String?
    /// A chime played after the speech (`chime_after`); nil: none.
    public var chimeAfter: String?
    /// The sound server's `media.role` for this job's stream (`media_role`), which its ducking policy follows; nil:
    /// the configuration's for the job's priority.
    public var mediaRole: String?

    public init(input: String, voice: String? = nil, model: String? = nil, instructions: String? = nil, speed: Double? = nil,
                upstream: String? = nil, priority: JobPriority = .message, volume: Double? = nil, ttl: Double? = nil,
                interrupt: Bool = false, archive: Bool? = nil, save: SaveFormat? = nil, play: Bool = true,
                cache: Bool = true, marks: [SpeakMark] = [], normalize: Bool? = nil, leadInMilliseconds: Int? = nil,
                chime: String? = nil, chimeAfter: String? = nil, mediaRole: String? = nil) {
        self.mediaRole = mediaRole
        self.leadInMilliseconds = leadInMilliseconds
        self.chime = chime
        self.chimeAfter = chimeAfter
        self.cache = cache
        self.normalize = normalize
        self.marks = marks
        self.archive = archive
        self.save = save
        self.play = play
        self.upstream = upstream
        self.priority = priority
        self.volume = volume
        self.ttl = ttl
        self.interrupt = interrupt
        self.input = input
        self.voice = voice
        self.model = model
        self.instructions = instructions
        self.speed = speed
    }
}

/// A named place in a speak job's text: a `mark` event is sent when playback reaches it.
///
/// Threading: a value type; Sendable.
public struct SpeakMark: Sendable, Equatable, Hashable {
    public var name: String
    /// Offset into `input` in Unicode scalars (code points), 0 … the input's scalar count.
    public var offset: Int

    public init(name: String, offset: Int) {
        self.name = name
        self.offset = offset
    }
}

/// The formats a client can have a job's audio streamed back in (`save`); the daemon's encoders write them.
public enum SaveFormat: String, Sendable, CaseIterable, Equatable {
    case mp3, opus, flac, wav
}

/// What to do with the daemon's phrase cache.
public enum CacheAction: Sendable, Equatable {
    /// Entries, bytes, hit rate.
    case stats
    /// Remove every entry.
    case clear
    /// Synthesize these phrases into the cache without playing them (voice, model, speed, instructions and
    /// upstream as for `speak`), so they play at once later, even offline.
    case warm(phrases: [String], SpeakParameters)
}

/// One operation a client can ask for.
public enum Operation: Sendable, Equatable {
    case speak(SpeakParameters)
    /// Silence now and clear the queue.
    case stop
    case status
    case ping
    /// Receive events of every job, not only one's own.
    case subscribe
    /// Cancel one job, wherever it is (queued, synthesizing, playing).
    case cancel(job: String)
    /// Cancel the job being heard; the next one follows.
    case skip
    /// Hold playback at the current sample; jobs keep queueing and synthesizing.
    case pause
    /// Continue exactly where `pause` stopped.
    case resume
    /// The jobs not yet finished, in the order they will be heard.
    case list
    case cache(CacheAction)
    /// End the job at the first of its marks named with this prefix ("" = any) that has not been heard yet.
    case endAtMark(job: String, prefix: String)
    /// Probe an upstream (the default one when nil) and report how to configure it: `speakctl upstream check`.
    case upstreamCheck(UpstreamCheckParameters)
    /// The daemon's metrics in Prometheus' text format (what `GET /metrics` serves on the HTTP front door).
    case metrics

    public var name: String {
        switch self {
        case .speak: "speak"
        case .stop: "stop"
        case .status: "status"
        case .ping: "ping"
        case .subscribe: "subscribe"
        case .cancel: "cancel"
        case .skip: "skip"
        case .pause: "pause"
        case .resume: "resume"
        case .list: "list"
        case .cache: "cache"
        case .endAtMark: "end_at_mark"
        case .upstreamCheck: "upstream_check"
        case .metrics: "metrics"
        }
    }

    public static let allNames = ["speak", "stop", "cancel", "skip", "pause", "resume", "list", "status", "subscribe", "ping", "cache",
                                   "end_at_mark", "upstream_check", "metrics"]
}

/// What `upstream_check` probes: a configured upstream (the default when nil), with a voice and model (the upstream's
/// defaults when nil).
///
/// Threading: a value type; Sendable.
public struct UpstreamCheckParameters: Sendable, Equatable {
    public var upstream: String?
    public var voice: String?
    public var model: String?

    public init(upstream: String? = nil, voice: String? = nil, model: String? = nil) {
        self.upstream = upstream
        self.voice = voice
        self.model = model
    }
}

/// A parsed, validated request line.
///
/// Threading: a value type; Sendable.
public struct Request: Sendable, Equatable {
    /// Echoed in the reply; a string or a number chosen by the client.
    public var id: JSONValue
    public var operation: Operation

    public init(id: JSONValue, operation: Operation) {
        self.id = id
        self.operation = operation
    }
}
