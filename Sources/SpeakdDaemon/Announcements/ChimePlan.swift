import SpeakdAudio
import SpeakdCore
import SpeakdProtocol

/// The chimes of one job, ready to play: samples at the format its speech is expected in, and the silence between
/// the chime and the speech.
///
/// Threading: a value type; Sendable.
struct ChimePlan: Sendable {
    var format: PCMFormat
    var before: [Int16]?
    var after: [Int16]?
    /// Silence between the chime before and the speech, in frames (`[chimes] offset_ms`).
    var gapFrames = 0

    var isEmpty: Bool { before == nil && after == nil }
}

/// Chimes as configured (`[chimes]`): one per priority, played before the speech unless the job names its own.
///
/// Threading: a value type; Sendable.
public struct ChimeOptions: Sendable, Equatable {
    /// The chime before each priority's jobs (absent: none).
    public var byPriority: [JobPriority: Chimes.Source] = [:]
    /// Silence between a chime and the speech, in milliseconds.
    public var offsetMilliseconds = SettingsTable.chimeOffsetMs.defaultValue

    public init() {}

    /// The job's chimes: its own (`chime`, `chime_after`; "" for none) or its priority's. The chime is converted to
    /// the format the job's speech is expected in (the device's fixed format; the embedded engine's; else the OpenAI
    /// contract's 24 kHz mono) and matched to `loudness`. Throws a message for a chime that cannot be played.
    func plan(for parameters: SpeakParameters, engine: JobEngine.Kind, engines: Engines, player: AudioPlayer,
              chimes: Chimes, loudness: LoudnessTarget?) throws(ChimeError) -> ChimePlan? {
        func source(_ text: String?, fallback: Chimes.Source?) throws(ChimeError) -> Chimes.Source? {
            guard let text else { return fallback }
            return text.isEmpty ? nil : try Chimes.source(text)
        }
        let before = try source(parameters.chime, fallback: byPriority[parameters.priority])
        let after = try source(parameters.chimeAfter, fallback: nil)
        guard before != nil || after != nil else { return nil }
        let format = player.deviceFormat ?? (engine == .embedded ? engines.embedded?.format : nil) ?? .openAISpeech
        let target = parameters.normalize == false ? nil : loudness
        return ChimePlan(format: format,
                         before: try before.map { source throws(ChimeError) in try chimes.samples(source, format: format, loudness: target) },
                         after: try after.map { source throws(ChimeError) in try chimes.samples(source, format: format, loudness: target) },
                         gapFrames: format.sampleRate * offsetMilliseconds / 1_000)
    }
}
