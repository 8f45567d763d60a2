import SpeakdProtocol

/// The limits that are not settings, in words, for `speakd --check-config` (and checked against
/// docs/architecture.md#limits by the tests, so the documentation stays true).
///
/// Threading: constants only.
enum FixedLimits {
    static let lines = [
        "fixed: a job's text is sent upstream in pieces of at most \(SpeechLimits.upstreamInputMaxCharacters) characters, split at sentence boundaries",
    ]
}
