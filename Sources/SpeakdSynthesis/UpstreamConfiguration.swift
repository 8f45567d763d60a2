import SpeakdProtocol

/// Where and how to reach an OpenAI-compatible speech upstream.
///
/// Threading: a value type; Sendable.
public struct UpstreamConfiguration: Sendable, Equatable {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1` (the OpenAI SDK's
    /// `OPENAI_BASE_URL` convention). The request goes to `{baseURL}/audio/speech`.
    public var baseURL: String
    /// Sent as `Authorization: Bearer …` when present. Self-hosted servers often need none.
    public var apiKey: String?
    /// For servers that state the wrong rate (or none): play their pcm at this rate.
    public var sampleRateOverride: Int?
    /// For servers that state the wrong channel count (or none): take their raw pcm as this many channels.
    public var channelsOverride: Int?
    /// Longest wait for a TCP (and TLS) connection to be established.
    public var connectTimeoutSeconds: Int64
    /// Longest wait for the response's headers, counted from sending the request (a new connection's set-up
    /// included): a server that accepts and says nothing fails.
    /// Generous by default: a self-hosted server loading its model after a pause answers in seconds.
    public var firstByteTimeoutSeconds: Int64
    /// Longest silence between two parts of a response body: a stream that stalls mid-way fails, never hangs.
    public var idleTimeoutSeconds: Int64
    /// Members added to every request body, for servers that want more than the contract (Kokoro-FastAPI streams
    /// only with `"stream": true`). Empty by default: OpenAI refuses unknown members.
    public var extraBody: [String: JSONValue] = [:]
    /// PEM file of the certificate authorities trusted for this upstream instead of the system's (a LAN server with
    /// its own CA or a self-signed certificate).
    public var caFile: String?
    /// While jobs keep coming (within `keepWarmWindowSeconds` of the last request), a connection idle this long is
    /// refreshed with a cheap `GET {base}/models`, so the next job finds it open instead of paying a new TCP and
    /// TLS handshake. 0: off. Pick it below the server's keep-alive timeout (uvicorn: 5 s, nginx: 75 s).
    public var keepWarmSeconds: Int64 = 0
    public var keepWarmWindowSeconds: Int64 = 600
    /// The speeds the server accepts (`speed_range`); nil: learned from its refusals and its audio's length
    /// (`UpstreamSpeed`). `1.0...1.0` for a server that ignores speed. The rest is time-stretched locally.
    public var speedRange: ClosedRange<Double>?
    /// How many requests the server serves at once without slowing each (`concurrent_requests`); nil: unknown, so
    /// the first request of a job runs alone (a CPU-bound server would slow it) and at most 2–3 run later.
    public var concurrentRequests: Int?

    public static let openAIBaseURL = "https://api.openai.com/v1"
    public static let defaultConnectTimeout: Int64 = 5
    public static let defaultFirstByteTimeout: Int64 = 20
    public static let defaultIdleTimeout: Int64 = 10

    public init(baseURL: String = UpstreamConfiguration.openAIBaseURL, apiKey: String? = nil,
                sampleRateOverride: Int? = nil, connectTimeoutSeconds: Int64 = UpstreamConfiguration.defaultConnectTimeout,
                firstByteTimeoutSeconds: Int64 = UpstreamConfiguration.defaultFirstByteTimeout,
                idleTimeoutSeconds: Int64 = UpstreamConfiguration.defaultIdleTimeout) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.sampleRateOverride = sampleRateOverride
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.firstByteTimeoutSeconds = firstByteTimeoutSeconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    public var speechURL: String { trimmedBase + "/audio/speech" }

    /// `GET` here is what every OpenAI-compatible server answers cheaply (OpenAI, Kokoro-FastAPI, Speaches, LocalAI).
    public var modelsURL: String { trimmedBase + "/models" }

    private var trimmedBase: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
