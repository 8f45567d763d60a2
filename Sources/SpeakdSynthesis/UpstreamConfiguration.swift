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
    public var connectTimeoutSeconds: Int64
    /// Longest wait for the next bytes of a response, the first ones included: a stalled stream fails, never hangs.
    public var readTimeoutSeconds: Int64
    /// Members added to every request body, for servers that want more than the contract (Kokoro-FastAPI streams
    /// only with `"stream": true`). Empty by default: OpenAI refuses unknown members.
    public var extraBody: [String: JSONValue] = [:]

    public static let openAIBaseURL = "https://api.openai.com/v1"

    public init(baseURL: String = UpstreamConfiguration.openAIBaseURL, apiKey: String? = nil,
                sampleRateOverride: Int? = nil, connectTimeoutSeconds: Int64 = 5, readTimeoutSeconds: Int64 = 20) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.sampleRateOverride = sampleRateOverride
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
    }

    public var speechURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/audio/speech"
    }
}
