import SpeakdCore
import SpeakdProtocol
import SpeakdSynthesis

/// Which engine serves jobs.
public enum EngineChoice: String, Sendable, CaseIterable {
    /// An upstream when one is configured (a key or a base URL, or an `[upstream.NAME]` section), else espeak-ng.
    case auto
    case openai
    case espeak = "espeak-ng"
}

/// An OpenAI-compatible upstream with its name and its defaults for jobs that do not choose.
///
/// Threading: a value type; Sendable.
public struct NamedUpstream: Sendable, Equatable {
    public var name: String
    public var configuration: UpstreamConfiguration
    public var model: String?
    public var voice: String?

    public init(name: String, configuration: UpstreamConfiguration, model: String? = nil, voice: String? = nil) {
        self.name = name
        self.configuration = configuration
        self.model = model
        self.voice = voice
    }
}

/// Everything the daemon needs to start, resolved from flags, environment and configuration file by
/// `SettingsResolver`.
///
/// Threading: a value type; Sendable.
public struct DaemonOptions: Sendable, Equatable {
    public var socketPath: String
    public var engine: EngineChoice = .auto
    /// Named upstreams; empty when none is configured.
    public var upstreams: [NamedUpstream] = []
    /// Serves jobs that name no upstream; nil when there are none.
    public var defaultUpstream: String?
    public var voice = "alloy"
    public var model = "tts-1"
    public var embeddedVoice = "en-us"
    /// Jobs of these priorities are spoken by the embedded engine when their upstream fails.
    public var fallbackPriorities: Set<JobPriority> = [.important, .message]
    /// When set, only these uids and gids may use the socket (checked with SO_PEERCRED), on top of its mode.
    public var accessList: PeerAccessList?
    /// Connections served at once; more are answered with an error and closed.
    public var maxConnections = 1_024
    /// Jobs not finished yet; a speak request beyond this is refused (`queue_full`).
    public var maxQueuedJobs = 10_000
    /// Longest request line; a longer one is answered `invalid_request` and skipped.
    public var maxLineBytes = SpeechLimits.maxLineBytes
    /// Longest `input` of one job, in characters.
    public var maxTextCharacters = SpeechLimits.jobInputMaxCharacters
    /// Replies and events a connection may leave unread before it is dropped.
    public var maxUnreadBytes = 4 * 1_048_576
    public var device = "default"
    public var periodMicroseconds: UInt32 = 10_000
    public var bufferMicroseconds: UInt32 = 40_000
    /// Loudness normalisation (`[audio] normalize`, `loudness_target`, `true_peak`); nil when off.
    public var loudness: LoudnessTarget? = LoudnessTarget()
    /// Open the device at this format whatever the source's (`[audio] sample_rate` and `channels`); nil: as it comes.
    public var deviceFormat: PCMFormat?
    /// The daemon-side archive; off unless a directory is configured.
    public var archive = ArchiveOptions()
    /// The phrase cache; on by default.
    public var cache = CacheOptions()
    /// `[http]` and `[mqtt]`; both off by default.
    public var frontDoors = FrontDoorOptions()

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// Startup problems the user can fix; printed as they are, and speakd exits 1.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
