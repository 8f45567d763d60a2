/// The state of the one message speech-dispatcher has handed the module (it sends the next only after `702 END`,
/// `703 STOP` or `704 PAUSE`): which pieces have become jobs, which are playing or done, how many marks have been
/// reported, and how the message is to end.
///
/// Threading: a value type, owned by `ModuleStateMachine`.
struct MessageProgress: Sendable {
    enum Ending: Sendable, Equatable {
        case playing
        case stopping
        /// Stop once playback reaches the mark with this index in `plan.allMarks`.
        case pausing(atMark: Int)
    }

    struct Piece: Sendable {
        var job: String?
        /// The speak request is out and its reply has not come.
        var speakPending = true
        /// A cancel is out and its reply (sent after the audio is cut) has not come.
        var cancelPending = false
        /// Cancel as soon as the job id is known (STOP or PAUSE came before the speak reply).
        var cancelWanted = false
        var started = false
        var done = false

        var isSettled: Bool { done && !speakPending && !cancelPending }
    }

    let serial: Int
    let plan: SpeechPlan
    var pieces: [Piece]
    var begun = false
    /// Marks of `plan.allMarks` reported so far (a prefix).
    var marksReported = 0
    var ending = Ending.playing
    /// Index in `plan.allMarks` just past each piece's leading marks.
    let markEnds: [Int]

    init(serial: Int, plan: SpeechPlan) {
        self.serial = serial
        self.plan = plan
        pieces = Array(repeating: Piece(), count: plan.pieces.count)
        var end = 0
        markEnds = plan.pieces.map { piece in
            end += piece.marks.count
            return end
        }
    }

    var isSettled: Bool { pieces.allSatisfy(\.isSettled) }

    /// The piece whose leading marks include the mark at `index`, or nil for a trailing mark.
    func piece(holdingMark index: Int) -> Int? {
        markEnds.firstIndex { index < $0 }
    }
}
