#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Lifecycle of a job as reported in events. Every job emits `queued`, then `started` when its first sample reaches
/// the device, then exactly one final state (`finished`, `cancelled`, `failed`, `expired`). `paused` and `resumed`
/// may come between `started` and the end.
public enum JobState: String, Sendable, Codable, Equatable {
    case queued
    case started
    case paused
    case resumed
    case finished
    case cancelled
    case failed
    /// Its `ttl` passed before it started playing.
    case expired
    /// Playback reached one of the job's marks (`mark` names it); only for jobs that asked for marks.
    case mark
    /// Only in `archive` events: the archive file was committed under its final name (`path`).
    case saved

    public var isFinal: Bool { self == .finished || self == .cancelled || self == .failed || self == .expired }
}

/// One unfinished job, as `list` reports it.
///
/// Threading: a value type; Sendable.
public struct JobSummary: Sendable, Codable, Equatable {
    /// `playing` (being heard), `paused`, `synthesizing` (written ahead of what is heard) or `queued`.
    public var state: String
    public var job: String
    public var priority: JobPriority
    public var engine: String
    /// The first 80 characters of the text.
    public var text: String
    /// Seconds on the daemon's monotonic clock when the job was accepted.
    public var queuedAt: Double
    /// Seconds left before the job expires, if it has a ttl and has not started.
    public var expiresIn: Double?

    public init(state: String, job: String, priority: JobPriority, engine: String, text: String, queuedAt: Double,
                expiresIn: Double? = nil) {
        self.state = state
        self.job = job
        self.priority = priority
        self.engine = engine
        self.text = text
        self.queuedAt = queuedAt
        self.expiresIn = expiresIn
    }
}

/// The daemon's state, answered to `status`.
///
/// Threading: a value type; Sendable.
public struct StatusInfo: Sendable, Codable, Equatable {
    public var version: String
    public var `protocol`: Int
    /// Which engine serves jobs that do not choose: `openai` (an OpenAI-compatible upstream) or `espeak-ng`.
    public var engine: String
    public var upstream: String?
    public var device: String
    /// Why the device cannot be used right now (missing at start, or failed while playing); absent when it can.
    /// The next job tries it again.
    public var deviceError: String?
    public var currentJob: String?
    /// Seconds of the current job heard so far.
    public var position: Double?
    /// The engine and upstream serving the current job.
    public var currentEngine: String?
    public var paused: Bool
    public var queued: Int
    public var underruns: Int
    public var uptimeSeconds: Double
    /// Upstreams that deliver slower than real time, and what speakd does about it; absent while all keep up.
    public var pacing: [String]?
    /// The output's lead-in and keep-open settings, and whether the device is open now (absent from older daemons).
    public var leadInMilliseconds: Int?
    public var leadInAfterIdleMilliseconds: Int?
    public var keepOpenMilliseconds: Int?
    public var deviceOpen: Bool?
    /// The stream's media.role for ducking; absent when none is set.
    public var mediaRole: String?
    /// The Snapcast output (the house's speakers); absent when none is configured.
    public var snapcast: SnapcastInfo?

    public init(version: String, protocol: Int, engine: String, upstream: String?, device: String, currentJob: String?,
                position: Double? = nil, currentEngine: String? = nil, paused: Bool = false,
                queued: Int, underruns: Int, uptimeSeconds: Double, deviceError: String? = nil) {
        self.deviceError = deviceError
        self.position = position
        self.currentEngine = currentEngine
        self.paused = paused
        self.version = version
        self.protocol = `protocol`
        self.engine = engine
        self.upstream = upstream
        self.device = device
        self.currentJob = currentJob
        self.queued = queued
        self.underruns = underruns
        self.uptimeSeconds = uptimeSeconds
    }
}

/// The Snapcast output in `status`.
///
/// Threading: a value type; Sendable.
public struct SnapcastInfo: Sendable, Codable, Equatable {
    /// The snapserver source, e.g. `tcp://127.0.0.1:4953 (48000:16:2)`.
    public var source: String
    /// Connected to the source now (only while speaking: the connection ends with the speech).
    public var connected: Bool
    public var streaming: Bool
    /// Why the rooms missed audio last (refused, stopped reading, went away); absent once it works again.
    public var error: String?
    public var sentSeconds: Double
    /// Audio the rooms missed (the source away, or too slow to keep up).
    public var droppedSeconds: Double
    public var reconnects: Int
    /// snapserver's end-to-end buffer: started/finished wait this long.
    public var bufferMilliseconds: Int
    /// The JSON-RPC group switching's last problem; absent when it works or is off.
    public var groupSwitchError: String?

    public init(source: String, connected: Bool, streaming: Bool, error: String?, sentSeconds: Double,
                droppedSeconds: Double, reconnects: Int, bufferMilliseconds: Int, groupSwitchError: String?) {
        self.source = source
        self.connected = connected
        self.streaming = streaming
        self.error = error
        self.sentSeconds = sentSeconds
        self.droppedSeconds = droppedSeconds
        self.reconnects = reconnects
        self.bufferMilliseconds = bufferMilliseconds
        self.groupSwitchError = groupSwitchError
    }
}

/// The phrase cache, answered to `cache` (every action).
///
/// Threading: a value type; Sendable.
public struct CacheInfo: Sendable, Codable, Equatable {
    /// False when the daemon runs without a cache (`--no-cache`, or its directory could not be created).
    public var enabled: Bool
    public var directory: String?
    public var entries: Int
    public var bytes: Int
    public var maximumBytes: Int
    public var hits: Int
    public var misses: Int
    /// Damaged or foreign entries found and removed since start.
    public var repaired: Int
    /// Why storing is paused (a full disk), if it is.
    public var storingPaused: String?
    /// `clear`: entries removed. `warm`: phrases synthesized now, already cached, and failed (with the first reason).
    public var removed: Int?
    public var synthesized: Int?
    public var alreadyCached: Int?
    public var failed: Int?
    public var firstFailure: String?

    public init(enabled: Bool, directory: String? = nil, entries: Int = 0, bytes: Int = 0, maximumBytes: Int = 0,
                hits: Int = 0, misses: Int = 0, repaired: Int = 0, storingPaused: String? = nil) {
        self.enabled = enabled
        self.directory = directory
        self.entries = entries
        self.bytes = bytes
        self.maximumBytes = maximumBytes
        self.hits = hits
        self.misses = misses
        self.repaired = repaired
        self.storingPaused = storingPaused
    }

    /// Hits over lookups since start, or nil before the first lookup.
    public var hitRate: Double? { hits + misses == 0 ? nil : Double(hits) / Double(hits + misses) }
}

/// The answer to one request: `{"id":…,"ok":true,…}` or `{"id":…,"ok":false,"error":{…}}`.
///
/// Threading: a value type; Sendable.
public struct Reply: Sendable, Codable, Equatable {
    public var id: JSONValue
    public var ok: Bool
    public var error: ProtocolError?
    /// For `speak`: the new job's id and the engine that will speak it.
    public var job: String?
    public var engine: String?
    /// For `stop`, `cancel`, `skip`: how many jobs were cancelled.
    public var cancelled: Int?
    public var status: StatusInfo?
    /// For `list`.
    public var jobs: [JobSummary]?
    /// For `cache`.
    public var cache: CacheInfo?
    /// For `end_at_mark`: the mark the job will end at (absent when none is left: the job plays to its end).
    public var mark: String?
    /// For `upstream_check`.
    public var report: UpstreamReport?
    /// For `metrics`: Prometheus' text exposition format (version 0.0.4), one metric family after another.
    public var metrics: String?

    public init(id: JSONValue, ok: Bool = true, error: ProtocolError? = nil, job: String? = nil, engine: String? = nil,
                cancelled: Int? = nil, status: StatusInfo? = nil, jobs: [JobSummary]? = nil, cache: CacheInfo? = nil,
                mark: String? = nil) {
        self.mark = mark
        self.cache = cache
        self.jobs = jobs
        self.id = id
        self.ok = ok
        self.error = error
        self.job = job
        self.engine = engine
        self.cancelled = cancelled
        self.status = status
    }

    public static func failure(id: JSONValue, _ error: ProtocolError) -> Reply {
        Reply(id: id, ok: false, error: error)
    }
}

/// Something that happened, sent without being asked: `{"event":"job","job":"3","state":"started",…}`.
///
/// Threading: a value type; Sendable.
public struct Event: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// First line on every connection: protocol version and server identity.
        case hello
        case job
        /// The daemon-side archive of a job: `state` `saved` (with `path`) or `failed` (with `reason`).
        case archive
        /// Encoded bytes of a job's `save` stream, to its owner only: `data` (base64) to write at `offset`; the last
        /// one has `end` true and the stream's `length`, or `state` `failed` and a `reason`.
        case audio
    }

    public var event: Kind
    public var job: String?
    public var state: JobState?
    /// Seconds on the daemon's monotonic clock (CLOCK_MONOTONIC), comparable between events.
    public var time: Double
    public var engine: String?
    /// Why a job failed or was cancelled, in words for people.
    public var reason: String?
    public var error: ProtocolError?
    /// Seconds of audio the job played, on `finished`.
    public var duration: Double?
    /// The job's priority, on `queued`.
    public var priority: JobPriority?
    public var `protocol`: Int?
    public var server: String?
    /// `archive` events: the archive's path once `saved`.
    public var path: String?
    /// `audio` events: base64 bytes to write at `offset` of the saved file.
    public var data: String?
    public var offset: Int?
    /// `audio` events: true on the last one of a complete stream, which also carries the file's `length`.
    public var end: Bool?
    public var length: Int?
    /// `mark` events: the mark reached; a job ended at a mark (`end_at_mark`) names it on its final event.
    public var mark: String?

    public init(event: Kind, job: String? = nil, state: JobState? = nil, time: Double, engine: String? = nil,
                reason: String? = nil, error: ProtocolError? = nil, duration: Double? = nil,
                priority: JobPriority? = nil, protocol: Int? = nil, server: String? = nil, path: String? = nil,
                data: String? = nil, offset: Int? = nil, end: Bool? = nil, length: Int? = nil, mark: String? = nil) {
        self.mark = mark
        self.path = path
        self.data = data
        self.offset = offset
        self.end = end
        self.length = length
        self.priority = priority
        self.event = event
        self.job = job
        self.state = state
        self.time = time
        self.engine = engine
        self.reason = reason
        self.error = error
        self.duration = duration
        self.protocol = `protocol`
        self.server = server
    }
}

/// A line from the daemon, as a client reads it.
public enum ServerMessage: Sendable, Equatable {
    case reply(Reply)
    case event(Event)
}

/// Encodes and decodes lines of the wire protocol (one JSON object per line, `\n`-terminated).
///
/// Threading: stateless; call from any thread.
public enum WireCodec {
    public static func encodeLine(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own Codable structs cannot fail: no floats are non-finite, no keys are dynamic.
        var bytes = [UInt8]((try? encoder.encode(value)) ?? Data(#"{"ok":false}"#.utf8))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    public static func encodeRequest(id: JSONValue, op: String, fields: [String: JSONValue] = [:]) -> [UInt8] {
        var object = fields
        object["id"] = id
        object["op"] = .string(op)
        object["v"] = .number(Double(speakdProtocolVersion))
        return encodeLine(JSONValue.object(object))
    }

    /// Decodes one line from the daemon. Lines with an `event` member are events; all others are replies.
    public static func decodeServerLine(_ line: some Collection<UInt8>) throws -> ServerMessage {
        let data = Data(line)
        let decoder = JSONDecoder()
        let probe = try decoder.decode(EventProbe.self, from: data)
        if probe.event != nil {
            return .event(try decoder.decode(Event.self, from: data))
        }
        return .reply(try decoder.decode(Reply.self, from: data))
    }

    private struct EventProbe: Decodable { var event: String? }
}
