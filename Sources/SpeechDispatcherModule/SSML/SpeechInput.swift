/// One SPEAK as one speak job: the pieces' texts joined into `input` and each mark placed at its offset in Unicode
/// scalars (the daemon's `marks` contract), trailing marks at the end. One job per message lets the daemon
/// synthesize whole sentences (their prosody, one upstream request each) instead of one request per word.
///
/// Threading: a value type; Sendable.
public struct SpeechInput: Sendable, Equatable {
    public struct Mark: Sendable, Equatable {
        public var name: String
        /// Offset in Unicode scalars into `input`, 0 … its scalar count.
        public var at: Int

        public init(_ name: String, at: Int) {
            self.name = name
            self.at = at
        }
    }

    public var input: String
    public var marks: [Mark]

    public init(input: String, marks: [Mark]) {
        self.input = input
        self.marks = marks
    }

    /// Joins `plan`'s pieces, each passed through `transform` first (punctuation, spelling: what is said), so the
    /// offsets refer to the text the daemon speaks. Pieces are separated by a space unless they were written
    /// together; a piece that transforms to nothing moves its marks to the next text.
    public init(plan: SpeechPlan, transform: (String) -> String = { $0 }) {
        var input = ""
        var count = 0
        var marks: [Mark] = []
        var waiting: [String] = []
        for piece in plan.pieces {
            waiting += piece.marks
            let text = transform(piece.text).trimmingWhitespace
            guard !text.isEmpty else { continue }
            if count > 0 && !piece.joinsPrevious {
                input += " "
                count += 1
            }
            marks += waiting.map { Mark($0, at: count) }
            waiting = []
            input += text
            count += text.unicodeScalars.count
        }
        marks += (waiting + plan.trailingMarks).map { Mark($0, at: count) }
        self.init(input: input, marks: marks)
    }

    /// The marks' names in order.
    public var markNames: [String] { marks.map(\.name) }
}
