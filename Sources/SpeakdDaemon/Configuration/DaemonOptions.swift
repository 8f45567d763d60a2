import SpeakdSnapcast
import SpeakdAudio
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
    public var engine = EngineChoice(rawValue: SettingsTable.engine.defaultValue) ?? .auto
    /// Named upstreams; empty when none is configured.
    public var upstreams: [NamedUpstream] = []
    /// Serves jobs that name no upstream; nil when there are none.
    public var defaultUpstream: String?
    public var voice = SettingsTable.voice.defaultValue
    public var model = SettingsTable.model.defaultValue
    public var embeddedVoice = SettingsTable.embeddedVoice.defaultValue
    /// Jobs of these priorities are spoken by the embedded engine when their upstream fails.
    public var fallbackPriorities: Set<JobPriority> = (try? SettingsResolver.priorities(SettingsTable.fallback.defaultValue)) ?? []
    /// When set, only these uids and gids may use the socket (checked with SO_PEERCRED), on top of its mode.
    public var accessList: PeerAccessList?
    /// Connections served at once; more are answered with an error and closed.
    public var maxConnections = SettingsTable.maxConnections.defaultValue
    /// Jobs not finished yet; a speak request beyond this is refused (`queue_full`).
    public var maxQueuedJobs = SettingsTable.maxQueuedJobs.defaultValue
    /// Longest request line; a longer one is answered `invalid_request` and skipped.
    public var maxLineBytes = SettingsTable.maxLineBytes.defaultValue
    /// Longest `input` of one job, in characters.
    public var maxTextCharacters = SettingsTable.maxTextCharacters.defaultValue
    /// Replies and events a connection may leave unread before it is dropped.
    public var maxUnreadBytes = SettingsTable.maxUnreadBytes.defaultValue
    public var device = SettingsTable.device.defaultValue
    /// `[audio] period_ms` and `buffer_ms`; the device takes microseconds.
    public var periodMilliseconds = SettingsTable.periodMs.defaultValue
    public var bufferMilliseconds = SettingsTable.bufferMs.defaultValue
    public var periodMicroseconds: UInt32 { UInt32(periodMilliseconds) * 1_000 }
    public var bufferMicroseconds: UInt32 { UInt32(bufferMilliseconds) * 1_000 }
    /// Loudness normalisation (`[audio] normalize`, `loudness_target`, `true_peak`); nil when off.
    public var loudness: LoudnessTarget? = LoudnessTarget()
    /// Open the device at this format whatever the source's (`[audio] sample_rate` and `channels`); nil: as it comes.
    public var deviceFormat: PCMFormat?
    /// Silence before a job when the device may be asleep (`[audio] lead_in_ms`, `lead_in_after_idle_ms`).
    public var leadIn = LeadIn()
    /// How long the device stays open after speech (`[audio] keep_open_ms`).
    public var keepOpenMilliseconds = SettingsTable.keepOpenMs.defaultValue
    /// The stream's `media.role` for the sound server's ducking policy (`[audio] media_role`); empty: none.
    public var mediaRole = SettingsTable.mediaRole.defaultValue
    /// `[media_roles]`: another role for a priority's jobs.
    public var mediaRoles: [JobPriority: String] = [:]

    /// Roles a job may name (`media_role`): the default first, the configured ones, and the roles sound servers'
    /// policies know. A fixed table: the audio thread picks from it by index.
    public var streamRoles: [String] {
        var roles = [mediaRole]
        for role in JobPriority.allCases.compactMap({ mediaRoles[$0] }) + Self.knownRoles where !roles.contains(role) {
            roles.append(role)
        }
        return roles
    }

    /// PulseAudio's and PipeWire's usual roles, and the two speakd uses.
    public static let knownRoles = ["announcement", "accessibility", "notification", "alarm", "event", "phone", "a11y",
                                    "music", "video", "game", "animation", "production", "test", ""]
    /// `[chimes]`: the chime before each priority's jobs and the silence after it.
    public var chimes = ChimeOptions()
    /// The daemon-side archive; off unless a directory is configured.
    public var archive = ArchiveOptions()
    /// The phrase cache; on by default.
    public var cache = CacheOptions()
    /// `[http]` and `[mqtt]`; both off by default.
    public var frontDoors = FrontDoorOptions()
    /// `[snapcast]`: the house's speakers; nil: off.
    public var snapcast: SnapcastOptions?

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// Startup problems the user can fix; printed as they are, and speakd exits 1.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Silence written before a job's first sample when the output may be asleep (closed, or silent for a while):
/// amplifiers and speakers that power down in silence swallow the first syllable otherwise.
///
/// Threading: a value type; Sendable.
public struct LeadIn: Sendable, Equatable {
    /// Length of the silence; 0: no lead-in.
    public var milliseconds = SettingsTable.leadInMs.defaultValue
    /// Silence on an open device for this long counts as asleep too.
    public var afterIdleMilliseconds = SettingsTable.leadInAfterIdleMs.defaultValue

    public init() {}

    public init(milliseconds: Int, afterIdleMilliseconds: Int) {
        self.milliseconds = milliseconds
        self.afterIdleMilliseconds = afterIdleMilliseconds
    }

    /// The silence to write now, at `format`, or nil when there is none or the device is awake.
    func silence(format: PCMFormat, player: AudioPlayer) -> AudioChunk? {
        guard milliseconds > 0, player.deviceAsleep(afterIdleMilliseconds: afterIdleMilliseconds) else { return nil }
        let frames = format.sampleRate * milliseconds / 1_000
        return AudioChunk(format: format, samples: [Int16](repeating: 0, count: frames * max(format.channels, 1)))
    }
}
