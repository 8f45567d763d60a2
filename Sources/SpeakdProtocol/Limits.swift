/// Version string reported to upstreams (User-Agent), clients (hello, status) and `--version`.
public let speakdVersion = "0.1.0"

/// Limits taken from the OpenAI speech contract (`openai-speech-api.yaml`, `CreateSpeechRequest`) and the ones the
/// daemon adds for its own wire protocol.
public enum SpeechLimits {
    /// `input.maxLength` and `instructions.maxLength` of one upstream request, in characters (Unicode scalars).
    public static let upstreamInputMaxCharacters = 4096
    public static let instructionsMaxCharacters = 4096
    /// `speed.minimum` / `speed.maximum`.
    public static let speedRange: ClosedRange<Double> = 0.25...4.0
    /// A speak request may carry more than one upstream request's worth of text: the daemon splits it at sentence
    /// boundaries. This bounds what one job may hold in memory (about a novel chapter).
    public static let jobInputMaxCharacters = 1_000_000
    /// Voice and model names are free strings in the contract; this only stops absurd values.
    public static let nameMaxCharacters = 256
    /// `volume` of a job: linear gain.
    public static let volumeRange: ClosedRange<Double> = 0.0...2.0
    /// `ttl` of a job: up to a day.
    public static let ttlRange: ClosedRange<Double> = 0.001...86_400
    /// A job's `lead_in_ms` (silence before it when the output may be asleep).
    public static let leadInMillisecondsRange: ClosedRange<Double> = 0...2_000
    /// `cache` `warm`: phrases per request (a screen reader's vocabulary fits; more take several requests).
    public static let warmMaxPhrases = 10_000
    /// Marks a job may carry beyond one per character of its input (several marks may share a place).
    public static let marksBeyondInput = 64
    /// Longest line the daemon accepts on its socket (a full job input, JSON-escaped, fits).
    public static let maxLineBytes = 8 * 1024 * 1024
}
