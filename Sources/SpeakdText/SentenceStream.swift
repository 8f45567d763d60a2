/// Cuts a text that arrives bit by bit (a pipe from a language model, `tail -f`) into sentences as soon as each is
/// complete, for `speakctl --follow`. A sentence is complete once text after it shows where it ends (the same
/// boundary rules as `TextSegmenter`: "Dr." waits for the next word), or when its line ends: in a stream every
/// newline is a boundary, since a log line or a chat message must be heard without waiting for the next one.
///
/// Threading: a value type; use one from one thread (or task) at a time.
public struct SentenceStream: Sendable {
    private var pending: [Character] = []
    private let segmenter = TextSegmenter()

    public init() {}

    /// Adds `text`; returns the sentences it completed, trimmed, in order (none blank).
    public mutating func append(_ text: String) -> [String] {
        pending += text
        var complete: [String] = []
        if let lastNewline = pending.lastIndex(of: "\n") {
            for line in pending[...lastNewline].split(separator: "\n") {
                complete += segmenter.sentences(Array(line)).map { String($0) }
            }
            pending = Array(pending[(lastNewline + 1)...])
        }
        let pieces = segmenter.sentences(pending)
        if pieces.count > 1 {
            complete += pieces.dropLast().map { String($0) }
            pending = Array(pieces.last!)
        }
        return complete.map(\.trimmedForDisplay).filter { !$0.isEmpty }
    }

    /// End of input: whatever is left, as the last sentence (if not blank).
    public mutating func finish() -> [String] {
        let rest = String(pending).trimmedForDisplay
        pending = []
        return rest.isEmpty ? [] : [rest]
    }
}
