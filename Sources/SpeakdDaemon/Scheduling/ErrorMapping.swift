import SpeakdProtocol
import SpeakdSynthesis

/// The one mapping from the daemon's internal failures to the protocol's error codes (docs/protocol.md).
///
/// Threading: pure functions on value types.
extension ProtocolError {
    /// A synthesis failure, by its kind.
    init(synthesis error: SynthesisError) {
        let code: Code = switch error.kind {
        case .authentication: .authentication
        case .rejected: .upstreamRejected
        case .unavailable: .upstreamUnavailable
        case .badAudio, .engine: .synthesisFailed
        }
        self.init(code, error.message)
    }

    /// The audio device failed or stalled.
    static func audioDevice(_ reason: String) -> ProtocolError { ProtocolError(.audioDevice, reason) }
}
