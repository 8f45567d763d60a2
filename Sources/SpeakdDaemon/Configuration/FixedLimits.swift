import SpeakdProtocol

/// The limits that are not settings, in words, for `speakd --check-config` (and checked against
/// docs/architecture.md#limits by the tests, so the documentation stays true).
///
/// Threading: constants only.
enum FixedLimits {
    static let lines = [
        "fixed: a request line may be \(SpeechLimits.maxLineBytes) bytes (8 MiB)",
        "fixed: a job's text may be \(SpeechLimits.jobInputMaxCharacters) characters, sent upstream in pieces of at most \(SpeechLimits.upstreamInputMaxCharacters) at sentence boundaries",
        "fixed: a connection that leaves \(ControlServer.maximumUnreadBytes) bytes (4 MiB) of replies and events unread is dropped",
    ]
}
