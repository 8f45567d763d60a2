/// What one SPEAK becomes: pieces of text, each preceded by the marks that lie before it, and the marks after the
/// last text. The pieces are joined into one speak job (`SpeechInput`), the marks placed at their offsets in it, so
/// the daemon synthesizes whole sentences and reports each mark when playback reaches it.
///
/// Threading: a value type; Sendable.
public struct SpeechPlan: Sendable, Equatable {
    public struct Piece: Sendable, Equatable {
        /// Marks reached when this piece starts playing, in document order.
        public var marks: [String]
        public var text: String
        /// No white space separated this piece from the previous text (a mark inside a word): joined without a space.
        public var joinsPrevious: Bool

        public init(marks: [String] = [], text: String, joinsPrevious: Bool = false) {
            self.marks = marks
            self.text = text
            self.joinsPrevious = joinsPrevious
        }
    }

    public var pieces: [Piece]
    /// Marks with no text after them: reached when the last piece has finished.
    public var trailingMarks: [String]

    public init(pieces: [Piece], trailingMarks: [String] = []) {
        self.pieces = pieces
        self.trailingMarks = trailingMarks
    }

    /// Splits SSML at its marks. Text between two marks that is only whitespace makes no piece (there is nothing
    /// to speak, and the daemon refuses blank input): its marks move to the next piece. Malformed SSML is spoken
    /// as it came, as plain text without marks.
    public init(ssml: String) {
        guard let items = SSMLReader.read(ssml) else {
            let text = ssml.trimmingWhitespace
            self.init(pieces: text.isEmpty ? [] : [Piece(text: text)])
            return
        }
        self.init(items: items)
    }

    init(items: [SSMLReader.Item]) {
        var pieces: [Piece] = []
        var marks: [String] = []
        var spaceBefore = true   // white space since the last piece's last character
        for item in items {
            switch item {
            case .mark(let name):
                marks.append(name)
            case .text(let raw):
                let text = raw.trimmingWhitespace
                guard !text.isEmpty else {
                    spaceBefore = spaceBefore || !raw.isEmpty
                    continue
                }
                let leads = raw.unicodeScalars.first.map { $0.properties.isWhitespace } ?? false
                pieces.append(Piece(marks: marks, text: text, joinsPrevious: !pieces.isEmpty && !spaceBefore && !leads))
                spaceBefore = raw.unicodeScalars.last.map { $0.properties.isWhitespace } ?? false
                marks = []
            }
        }
        self.init(pieces: pieces, trailingMarks: marks)
    }

    /// Plain text as one piece (CHAR, KEY, SOUND_ICON).
    public init(text: String) {
        let trimmed = text.trimmingWhitespace
        self.init(pieces: trimmed.isEmpty ? [] : [Piece(text: trimmed)])
    }

    /// All marks in document order.
    public var allMarks: [String] { pieces.flatMap(\.marks) + trailingMarks }
}

extension StringProtocol {
    /// Without leading and trailing white space of any kind (newlines included).
    var trimmingWhitespace: String {
        let scalars = Array(unicodeScalars)
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
