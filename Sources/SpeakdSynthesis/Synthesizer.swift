import SpeakdCore

/// One request for audio: the OpenAI contract's fields, already resolved against the daemon's defaults.
///
/// Threading: a value type; Sendable.
public struct SynthesisRequest: Sendable, Equatable {
    public var input: String
    public var voice: String
    public var model: String
    public var instructions: String?
    public var speed: Double?

    public init(input: String, voice: String, model: String, instructions: String? = nil, speed: Double? = nil) {
        self.input = input
        self.voice = voice
        self.model = model
        self.instructions = instructions
        self.speed = speed
    }
}

/// Why synthesis failed, in terms a user can act on.
///
/// Threading: a value type; Sendable.
public struct SynthesisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The upstream refused the key (401/403).
        case authentication
        /// The upstream refused the request (4xx): its message says why.
        case rejected
        /// Connection refused, DNS, TLS, timeouts, 5xx: the upstream is not usable right now.
        case unavailable
        /// The upstream answered 200 but the body is not usable audio (empty, cut short, another container).
        case badAudio
        /// The embedded engine failed.
        case engine
    }

    public var kind: Kind
    public var message: String
    public var httpStatus: Int?
    /// Worth trying again later: the upstream is down, overloaded or rate-limiting (not a refused key, a bad
    /// request, or an exhausted quota).
    public var isRetryable: Bool
    /// How long the upstream asked to wait (`Retry-After`, `x-ratelimit-reset-*`), if it said.
    public var retryAfterSeconds: Double?
    /// What a refusal (4xx) said about the `speed` the upstream accepts, when it named speed.
    public var speedRefusal: SpeedRefusal?

    public init(_ kind: Kind, _ message: String, httpStatus: Int? = nil, isRetryable: Bool = false,
                retryAfterSeconds: Double? = nil) {
        self.kind = kind
        self.message = message
        self.httpStatus = httpStatus
        self.isRetryable = isRetryable
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { message }
}

/// Something that turns text into PCM: an OpenAI-compatible upstream or the embedded engine.
///
/// Threading: implementations are Sendable; `synthesize` may be called from any task, several at once. Audio is
/// pushed to `deliver` in order as it is produced (streaming), on the calling task; `deliver` applies backpressure
/// by suspending. Cancelling the task stops synthesis promptly (the upstream connection is closed).
public protocol Synthesizer: Sendable {
    /// Short name shown to users: "openai" or "espeak-ng".
    var engineName: String { get }

    func synthesize(_ request: SynthesisRequest,
                    deliver: (AudioChunk) async throws -> Void) async throws
}
