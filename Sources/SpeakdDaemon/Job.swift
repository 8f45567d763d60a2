import SpeakdProtocol
import SpeakdSynthesis

/// A speak job as the daemon holds it.
///
/// Threading: a value type; Sendable.
struct Job: Sendable {
    let id: String
    let parameters: SpeakParameters
    let engine: any Synthesizer
    let owner: ConnectionID?
    /// The requests the text was split into (each within the upstream's 4096-character limit).
    let segments: [String]
    let voice: String
    let model: String
}
