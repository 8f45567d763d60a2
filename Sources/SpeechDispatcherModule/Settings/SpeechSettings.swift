/// The voice settings speech-dispatcher sends in SET blocks (before every SPEAK, CHAR and KEY). Only what changed
/// arrives, so the values persist between messages.
///
/// Threading: a value type; Sendable.
public struct SpeechSettings: Sendable, Equatable {
    /// -100 … 100; 0 is the voice's normal rate.
    public var rate = 0
    /// -100 … 100; 0 is unchanged loudness.
    public var volume = 0
    public var pitch = 0
    public var pitchRange = 0
    /// `male1` … `child_female`: a symbolic voice the configuration maps to a real one.
    public var voiceType: String?
    /// A name from LIST VOICES; nil when the client chose none (`NULL`).
    public var synthesisVoice: String?
    public var language: String?
    public var punctuationMode: String?
    public var spellingMode = false
    public var capitalLetterRecognition: String?

    public init() {}

    /// Applies one SET block. Returns false (and changes nothing) if a value is out of range or not a number;
    /// unknown keys are ignored, as newer servers may send more.
    public mutating func apply(_ lines: [SettingLine]) -> Bool {
        var updated = self
        for line in lines {
            let value = line.value
            let absent = value.isEmpty || value == "NULL"
            switch line.key {
            case "rate", "volume", "pitch", "pitch_range":
                guard let number = Int(value), (-100...100).contains(number) else { return false }
                switch line.key {
                case "rate": updated.rate = number
                case "volume": updated.volume = number
                case "pitch": updated.pitch = number
                default: updated.pitchRange = number
                }
            case "voice": updated.voiceType = absent ? nil : value.lowercased()
            case "synthesis_voice": updated.synthesisVoice = absent ? nil : value
            case "language": updated.language = absent ? nil : value
            case "punctuation_mode": updated.punctuationMode = absent ? nil : value
            case "spelling_mode": updated.spellingMode = value == "on" || value == "1"
            case "cap_let_recogn": updated.capitalLetterRecognition = absent ? nil : value
            default: continue
            }
        }
        self = updated
        return true
    }
}
