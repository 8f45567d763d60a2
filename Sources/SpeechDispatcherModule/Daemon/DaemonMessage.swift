#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SpeakdProtocol

/// A line from speakd as the module needs it. Decoded leniently from the untyped JSON: job states this build does
/// not know yet (`expired`, `paused`, …) must not break the link, so states stay strings here.
///
/// Threading: a value type; Sendable.
public enum DaemonMessage: Sendable, Equatable {
    /// The answer to request `id` (the module's ids are integers). `mark`: the mark `end_at_mark` chose.
    case reply(id: Int?, ok: Bool, job: String?, cancelled: Int?, error: String?, mark: String? = nil)
    /// `{"event":"job","job":…,"state":…}`. `mark`: the mark reached (state `mark`), or the mark a job ended at
    /// (`cancelled` after `end_at_mark`).
    case job(id: String, state: String, reason: String?, mark: String? = nil)
    /// The greeting and anything else the module does not act on.
    case other

    /// Job states after which a job makes no more sound.
    public static let finalStates: Set<String> = ["finished", "cancelled", "failed", "expired"]

    /// nil for a line that is not a JSON object.
    public static func decode(_ line: some Collection<UInt8>) -> DaemonMessage? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)), let object = value.objectValue else {
            return nil
        }
        if let event = object["event"]?.stringValue {
            guard event == "job", let job = object["job"]?.stringValue, let state = object["state"]?.stringValue else {
                return .other
            }
            return .job(id: job, state: state, reason: object["reason"]?.stringValue, mark: object["mark"]?.stringValue)
        }
        let id = object["id"]?.numberValue.map { Int($0) }
        let error = object["error"]?.objectValue.map { error in
            let message = error["message"]?.stringValue ?? "unknown error"
            return error["code"]?.stringValue.map { "\($0): \(message)" } ?? message
        }
        return .reply(id: id, ok: object["ok"]?.boolValue ?? false, job: object["job"]?.stringValue,
                      cancelled: object["cancelled"]?.numberValue.map { Int($0) }, error: error,
                      mark: object["mark"]?.stringValue)
    }
}
