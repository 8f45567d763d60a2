/// What `upstream_check` found out about an upstream: everything a user needs to configure it well. The daemon
/// fills it (it holds the key and the configuration); `speakctl upstream check` prints it.
///
/// Threading: value types; Sendable.
public struct UpstreamReport: Sendable, Codable, Equatable {
    /// The configured name (`[upstream.NAME]`) and where it points.
    public var upstream: String
    public var baseURL: String
    /// What the probes asked for.
    public var voice: String
    public var model: String
    /// A TCP (and TLS) connection and an HTTP answer came back.
    public var reachable: Bool
    /// `ok`, `rejected`, or `unknown` (never got that far).
    public var authentication: String
    /// Whether a key was sent (never the key itself).
    public var keySent: Bool
    /// `GET {base}/models` and `GET {base}/audio/voices` (Kokoro-FastAPI's list).
    public var models: Listing?
    public var voices: Listing?
    /// How the audio arrives and how the server announces it (from the longer phrase).
    public var format: AudioFormatReport?
    /// The short and the longer phrase, in that order (the short one asked a second time: the first request may pay
    /// for a model loaded on demand).
    public var probes: [PhraseProbe] = []
    /// First audio byte of the very first request, the short phrase (a cold server's, if it was idle).
    public var firstRequestMilliseconds: Double?
    /// The first audio byte came well before the body was complete.
    public var streams: Bool?
    /// Time to first audio byte ≈ `baseMilliseconds` + `millisecondsPerCharacter` × characters (two points).
    public var firstByte: FirstByteModel?
    /// Audio seconds delivered per wall-clock second for the longer phrase (above 1: faster than real time).
    public var realTimeFactor: Double?
    /// Each speed asked for with a tiny input, and the answer.
    public var speeds: [SpeedProbe] = []
    /// The contiguous range of probed speeds around 1.0 that the server accepted.
    public var speedRange: SpeedRange?
    /// Things to fix in the configuration or to know (wrong rate likely, slow server, …).
    public var warnings: [String] = []
    /// Why speakd cannot use this upstream as configured (unreachable, key refused, voice refused); empty when usable.
    public var problems: [String] = []

    public init(upstream: String, baseURL: String, voice: String, model: String, reachable: Bool = false,
                authentication: String = "unknown", keySent: Bool = false) {
        self.upstream = upstream
        self.baseURL = baseURL
        self.voice = voice
        self.model = model
        self.reachable = reachable
        self.authentication = authentication
        self.keySent = keySent
    }

    /// The answer to a `GET` that lists things: the names, or why there are none.
    public struct Listing: Sendable, Codable, Equatable {
        public var url: String
        public var status: Int?
        /// nil when the server does not list them (an error status, or a body not understood).
        public var names: [String]?
        public var note: String?

        public init(url: String, status: Int? = nil, names: [String]? = nil, note: String? = nil) {
            self.url = url
            self.status = status
            self.names = names
            self.note = note
        }
    }

    public struct AudioFormatReport: Sendable, Codable, Equatable {
        /// The Content-Type header as sent (nil: none).
        public var contentType: String?
        /// Response headers of the server's own that name a rate or a channel count, `name: value`.
        public var formatHeaders: [String] = []
        /// What the first bytes are: `raw` (no container), `wav`, `mp3`, `ogg`, `flac`.
        public var container: String
        public var sampleRate: Int?
        public var channels: Int?
        public var bitsPerSample: Int?
        /// Where the rate comes from: `Content-Type`, `WAV header`, a header's name, `sample_rate setting`, or
        /// `nothing (24000 Hz assumed)`.
        public var rateSource: String
        /// `Transfer-Encoding: chunked` (else Content-Length or close-delimited).
        public var chunked: Bool

        public init(contentType: String?, container: String, rateSource: String, chunked: Bool) {
            self.contentType = contentType
            self.container = container
            self.rateSource = rateSource
            self.chunked = chunked
        }
    }

    public struct PhraseProbe: Sendable, Codable, Equatable {
        public var characters: Int
        /// Characters of its first sentence (a server that streams sentence by sentence starts after it).
        public var firstSentenceCharacters: Int
        public var status: Int?
        /// The server's words when it refused, or the transport failure.
        public var error: String?
        /// From sending the request: the response's headers, its first body byte, its end.
        public var headersMilliseconds: Double?
        public var firstByteMilliseconds: Double?
        public var totalMilliseconds: Double?
        public var bytes: Int = 0
        /// Body parts as they arrived (a rough sign of streaming).
        public var parts: Int = 0
        /// Seconds of audio at the format's rate, and of speech (leading and trailing silence trimmed).
        public var audioSeconds: Double?
        public var speechSeconds: Double?
        /// Speech milliseconds per character (about 60–90 at speed 1 for English at the right rate).
        public var millisecondsPerCharacter: Double?

        public init(characters: Int, firstSentenceCharacters: Int) {
            self.characters = characters
            self.firstSentenceCharacters = firstSentenceCharacters
        }
    }

    public struct FirstByteModel: Sendable, Codable, Equatable {
        public var baseMilliseconds: Double
        public var millisecondsPerCharacter: Double
        /// `input` (the whole request) or `first sentence` (for a server that streams sentence by sentence).
        public var basis: String

        public init(baseMilliseconds: Double, millisecondsPerCharacter: Double, basis: String) {
            self.baseMilliseconds = baseMilliseconds
            self.millisecondsPerCharacter = millisecondsPerCharacter
            self.basis = basis
        }
    }

    public struct SpeedProbe: Sendable, Codable, Equatable {
        public var speed: Double
        public var accepted: Bool
        public var status: Int?
        /// The refusal in the server's words.
        public var message: String?
        /// Audio seconds of the answer (compare with speed 1.0: a server that ignores speed sends the same length).
        public var audioSeconds: Double?

        public init(speed: Double, accepted: Bool, status: Int? = nil, message: String? = nil, audioSeconds: Double? = nil) {
            self.speed = speed
            self.accepted = accepted
            self.status = status
            self.message = message
            self.audioSeconds = audioSeconds
        }
    }

    public struct SpeedRange: Sendable, Codable, Equatable {
        public var minimum: Double
        public var maximum: Double

        public init(minimum: Double, maximum: Double) {
            self.minimum = minimum
            self.maximum = maximum
        }
    }
}
