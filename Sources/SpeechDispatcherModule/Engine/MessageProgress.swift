import SpeakdProtocol

/// The state of the one message speech-dispatcher has handed the module (it sends the next only after `702 END`,
/// `703 STOP` or `704 PAUSE`): its one speak job, how many of its marks have been reported, and how it is to end.
///
/// Threading: a value type, owned by `ModuleStateMachine`.
struct MessageProgress: Sendable {
    enum Ending: Sendable, Equatable {
        case playing
        case stopping
        /// `end_at_mark` is out (or wanted): the job is to end at the next `__spd_` mark.
        case pausing
    }

    let serial: Int
    /// Every mark of the message, in order (the job's `marks` names; all reported at once if nothing is spoken).
    let marks: [String]
    var job: String?
    /// The speak request's fields while its reply is awaited (to resend it without `marks` to an older daemon).
    var speakRequest: [String: JSONValue]?
    /// The speak request is out and its reply has not come (false when the message has nothing to say).
    var speakPending: Bool
    /// A cancel is out and its reply (sent after the audio is cut) has not come.
    var cancelPending = false
    /// Cancel as soon as the job id is known (STOP came before the speak reply).
    var cancelWanted = false
    /// Send `end_at_mark` as soon as the job id is known (PAUSE came before the speak reply).
    var pauseWanted = false
    /// The job has ended (its final event, its cancel confirmed, or it was refused).
    var done: Bool
    /// The mark the job ended at after `end_at_mark` (from its final event).
    var endedAtMark: String?
    var begun = false
    /// Marks reported so far (a prefix of `marks`).
    var marksReported = 0
    var ending = Ending.playing

    init(serial: Int, marks: [String], speaking: Bool) {
        self.serial = serial
        self.marks = marks
        speakPending = speaking
        done = !speaking
    }

    var isSettled: Bool { done && !speakPending && !cancelPending }

    /// Index of the first not yet reported mark named `name`.
    func nextIndex(of name: String) -> Int? {
        marks.indices.first { $0 >= marksReported && marks[$0] == name }
    }
}
