#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Turns one line from the socket into a `Request`, or a `ProtocolError` that names the offending field.
///
/// Threading: stateless; call from any thread.
public enum RequestParser {
    /// Parses and validates `line` (without its newline). On failure the error carries the request id when one
    /// could be read, so the reply can still be matched.
    /// `maxInputCharacters` bounds a speak job's `input` (`[limits] max_text_characters`).
    public static func parse(_ line: some Collection<UInt8>,
                             maxInputCharacters: Int = SpeechLimits.jobInputMaxCharacters) -> Result<Request, RequestError> {
        guard String(validating: line, as: UTF8.self) != nil else {
            return .failure(RequestError(id: .null, error: ProtocolError(.invalidJSON, "the request is not valid UTF-8")))
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(line))
        } catch {
            return .failure(RequestError(id: .null, error: ProtocolError(.invalidJSON, "the request is not valid JSON: one JSON object per line is expected")))
        }
        guard let object = value.objectValue else {
            return .failure(RequestError(id: .null, error: ProtocolError(.invalidRequest, "a request must be a JSON object, got \(value.typeName)")))
        }
        let id = object["id"] ?? .null
        do {
            return .success(Request(id: id, operation: try operation(from: object, maxInputCharacters: maxInputCharacters)))
        } catch {
            return .failure(RequestError(id: id, error: error))
        }
    }

    static let envelopeKeys: Set<String> = ["id", "op", "v"]

    static func operation(from object: [String: JSONValue],
                          maxInputCharacters: Int = SpeechLimits.jobInputMaxCharacters) throws(ProtocolError) -> Operation {
        switch object["id"] {
        case nil, .null, .string, .number: break
        case let other?: throw ProtocolError(.invalidField, "id must be a string or a number, got \(other.typeName)", field: "id")
        }
        if let version = object["v"] {
            guard let number = version.numberValue, number.rounded() == number else {
                throw ProtocolError(.invalidField, "v must be an integer protocol version, got \(version.typeName)", field: "v")
            }
            guard number == Double(speakdProtocolVersion) else {
                throw ProtocolError(.unsupportedVersion, "protocol version \(integerText(number)) is not supported; this speakd speaks version \(speakdProtocolVersion)", field: "v")
            }
        }
        guard let opValue = object["op"] else {
            throw ProtocolError(.invalidField, "op is missing: say what to do, e.g. \"op\":\"speak\"", field: "op")
        }
        guard let op = opValue.stringValue else {
            throw ProtocolError(.invalidField, "op must be a string, got \(opValue.typeName)", field: "op")
        }
        var fields = Fields(object: object, allowed: envelopeKeys)
        let operation: Operation
        switch op {
        case "speak": operation = .speak(try speakParameters(&fields, maxInputCharacters: maxInputCharacters))
        case "stop": operation = .stop
        case "status": operation = .status
        case "ping": operation = .ping
        case "subscribe": operation = .subscribe
        case "skip": operation = .skip
        case "pause": operation = .pause
        case "resume": operation = .resume
        case "list": operation = .list
        case "metrics": operation = .metrics
        case "cache": operation = .cache(try cacheAction(&fields))
        case "upstream_check":
            operation = .upstreamCheck(UpstreamCheckParameters(
                upstream: try fields.string("upstream", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true),
                voice: try fields.string("voice", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true),
                model: try fields.string("model", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)))
        case "cancel":
            guard let job = try fields.jobID("job") else {
                throw ProtocolError(.invalidField, "job is missing: the id of the job to cancel (from the speak reply or list)", field: "job")
            }
            operation = .cancel(job: job)
        case "end_at_mark":
            guard let job = try fields.jobID("job") else {
                throw ProtocolError(.invalidField, "job is missing: the id of the job to end at a mark", field: "job")
            }
            let prefix = try fields.string("prefix", maxCharacters: SpeechLimits.nameMaxCharacters) ?? ""
            operation = .endAtMark(job: job, prefix: prefix)
        default:
            throw ProtocolError(.unknownOperation, "unknown op \"\(op)\"; known: \(Operation.allNames.joined(separator: ", "))", field: "op")
        }
        try fields.rejectUnknown()
        return operation
    }

    static func speakParameters(_ fields: inout Fields,
                                maxInputCharacters: Int = SpeechLimits.jobInputMaxCharacters) throws(ProtocolError) -> SpeakParameters {
        guard let input = try fields.string("input", maxCharacters: maxInputCharacters) else {
            throw ProtocolError(.invalidField, "input is missing: the text to speak", field: "input")
        }
        guard input.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw ProtocolError(.invalidField, "input is empty: there is nothing to speak", field: "input")
        }
        let voice = try fields.string("voice", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
        let model = try fields.string("model", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
        let instructions = try fields.string("instructions", maxCharacters: SpeechLimits.instructionsMaxCharacters)
        let speed = try fields.number("speed", range: SpeechLimits.speedRange)
        let upstream = try fields.string("upstream", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
        var priority = JobPriority.message
        if let name = try fields.string("priority", maxCharacters: 32) {
            guard let known = JobPriority(rawValue: name) else {
                let names = JobPriority.allCases.map(\.rawValue).joined(separator: ", ")
                throw ProtocolError(.invalidField, "priority must be one of \(names), got \"\(name)\"", field: "priority")
            }
            priority = known
        }
        let volume = try fields.number("volume", range: SpeechLimits.volumeRange)
        let ttl = try fields.number("ttl", range: SpeechLimits.ttlRange)
        let interrupt = try fields.bool("interrupt") ?? false
        let archive = try fields.bool("archive")
        var save: SaveFormat?
        if let name = try fields.string("save", maxCharacters: 16) {
            guard let known = SaveFormat(rawValue: name) else {
                let names = SaveFormat.allCases.map(\.rawValue).joined(separator: ", ")
                throw ProtocolError(.invalidField, "save must be one of \(names), got \"\(name)\"", field: "save")
            }
            save = known
        }
        let play = try fields.bool("play") ?? true
        let cache = try fields.bool("cache") ?? true
        let marks = try speakMarks(&fields, input: input)
        let normalize = try fields.bool("normalize")
        let leadIn = try fields.number("lead_in_ms", range: SpeechLimits.leadInMillisecondsRange)
        if let leadIn, leadIn != leadIn.rounded() {
            throw ProtocolError(.invalidField, "lead_in_ms must be a whole number of milliseconds, got \(leadIn)", field: "lead_in_ms")
        }
        let chime = try fields.string("chime", maxCharacters: 4_096)
        let chimeAfter = try fields.string("chime_after", maxCharacters: 4_096)
        let mediaRole = try fields.string("media_role", maxCharacters: 64)
        if !play && save == nil && archive != true {
            throw ProtocolError(.invalidField, "play is false but the job is neither saved nor archived: there would be nothing to do", field: "play")
        }
        return SpeakParameters(input: input, voice: voice, model: model, instructions: instructions, speed: speed,
                               upstream: upstream, priority: priority, volume: volume, ttl: ttl, interrupt: interrupt,
                               archive: archive, save: save, play: play, cache: cache, marks: marks,
                               normalize: normalize, leadInMilliseconds: leadIn.map { Int($0) },
                               chime: chime, chimeAfter: chimeAfter, mediaRole: mediaRole)
    }

    /// `marks`: `[{"name":"w1","at":0}, …]`, offsets in Unicode scalars of `input`, non-decreasing.
    static func speakMarks(_ fields: inout Fields, input: String) throws(ProtocolError) -> [SpeakMark] {
        guard let value = fields.take("marks"), value != .null else { return [] }
        guard case .array(let items) = value else {
            throw ProtocolError(.invalidField, "marks must be an array of {\"name\":…,\"at\":…}, got \(value.typeName)", field: "marks")
        }
        let length = input.unicodeScalars.count
        guard items.count <= length + SpeechLimits.marksBeyondInput else {
            throw ProtocolError(.invalidField, "marks holds \(items.count) entries; at most one per character of input (+\(SpeechLimits.marksBeyondInput))", field: "marks")
        }
        var marks: [SpeakMark] = []
        marks.reserveCapacity(items.count)
        for item in items {
            guard case .object(let object) = item, object.keys.allSatisfy({ $0 == "name" || $0 == "at" }),
                  let name = object["name"]?.stringValue, !name.isEmpty,
                  name.unicodeScalars.count <= SpeechLimits.nameMaxCharacters,
                  let at = object["at"]?.numberValue, at.rounded() == at else {
                throw ProtocolError(.invalidField, "each mark must be {\"name\": a non-empty string of at most \(SpeechLimits.nameMaxCharacters) characters, \"at\": an integer}", field: "marks")
            }
            guard at >= 0, at <= Double(length) else {
                throw ProtocolError(.invalidField, "mark \"\(name)\" is at \(integerText(at)), outside the input (0…\(length) characters)", field: "marks")
            }
            if let last = marks.last, Int(at) < last.offset {
                throw ProtocolError(.invalidField, "mark \"\(name)\" is at \(Int(at)), before the mark ahead of it (\(last.offset)): marks go in text order", field: "marks")
            }
            marks.append(SpeakMark(name: name, offset: Int(at)))
        }
        return marks
    }

    /// A whole number from the wire for a message. `Int(_:)` traps beyond Int's range, and `1e300` is a whole
    /// number: `"v":1e300` or a mark `"at":1e300` crashed the daemon (kept in Fuzz/corpus/request-line).
    static func integerText(_ value: Double) -> String {
        abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }

    /// `{"op":"cache","action":"stats"}`, `"clear"`, or `"warm"` with `phrases` and the speak settings.
    static func cacheAction(_ fields: inout Fields) throws(ProtocolError) -> CacheAction {
        guard let action = try fields.string("action", maxCharacters: 16) else {
            throw ProtocolError(.invalidField, "action is missing: stats, clear or warm", field: "action")
        }
        switch action {
        case "stats": return .stats
        case "clear": return .clear
        case "warm":
            guard let value = fields.take("phrases"), case .array(let items) = value else {
                throw ProtocolError(.invalidField, "phrases must be an array of strings to synthesize", field: "phrases")
            }
            guard items.count <= SpeechLimits.warmMaxPhrases else {
                throw ProtocolError(.invalidField, "phrases holds \(items.count) entries; at most \(SpeechLimits.warmMaxPhrases) per request", field: "phrases")
            }
            var phrases: [String] = []
            for item in items {
                guard let phrase = item.stringValue else {
                    throw ProtocolError(.invalidField, "phrases must hold only strings, found \(item.typeName)", field: "phrases")
                }
                guard phrase.unicodeScalars.count <= SpeechLimits.upstreamInputMaxCharacters else {
                    throw ProtocolError(.invalidField, "a phrase is longer than \(SpeechLimits.upstreamInputMaxCharacters) characters", field: "phrases")
                }
                if phrase.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) { phrases.append(phrase) }
            }
            let voice = try fields.string("voice", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
            let model = try fields.string("model", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
            let instructions = try fields.string("instructions", maxCharacters: SpeechLimits.instructionsMaxCharacters)
            let speed = try fields.number("speed", range: SpeechLimits.speedRange)
            let upstream = try fields.string("upstream", maxCharacters: SpeechLimits.nameMaxCharacters, nonEmpty: true)
            return .warm(phrases: phrases, SpeakParameters(input: "", voice: voice, model: model, instructions: instructions,
                                                           speed: speed, upstream: upstream))
        default:
            throw ProtocolError(.invalidField, "action must be stats, clear or warm, not \"\(action)\"", field: "action")
        }
    }
}

/// A request that failed validation, with the id to answer it under.
public struct RequestError: Error, Sendable, Equatable {
    public var id: JSONValue
    public var error: ProtocolError
}

/// Reads typed members out of a request object, remembering which ones were consumed so that unknown members (most
/// often typos such as "sped") are reported instead of silently ignored.
struct Fields {
    let object: [String: JSONValue]
    var consumed: Set<String>

    init(object: [String: JSONValue], allowed: Set<String>) {
        self.object = object
        self.consumed = allowed
    }

    mutating func string(_ name: String, maxCharacters: Int, nonEmpty: Bool = false) throws(ProtocolError) -> String? {
        consumed.insert(name)
        guard let value = object[name], value != .null else { return nil }
        guard let string = value.stringValue else {
            throw ProtocolError(.invalidField, "\(name) must be a string, got \(value.typeName)", field: name)
        }
        let count = string.unicodeScalars.count
        if count > maxCharacters {
            throw ProtocolError(.invalidField, "\(name) is \(count) characters long; at most \(maxCharacters) are allowed", field: name)
        }
        if nonEmpty && string.isEmpty {
            throw ProtocolError(.invalidField, "\(name) must not be empty", field: name)
        }
        return string
    }

    mutating func number(_ name: String, range: ClosedRange<Double>) throws(ProtocolError) -> Double? {
        consumed.insert(name)
        guard let value = object[name], value != .null else { return nil }
        guard let number = value.numberValue else {
            throw ProtocolError(.invalidField, "\(name) must be a number, got \(value.typeName)", field: name)
        }
        guard range.contains(number) else {
            throw ProtocolError(.invalidField, "\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(number)", field: name)
        }
        return number
    }

    /// The raw member, marked as consumed.
    mutating func take(_ name: String) -> JSONValue? {
        consumed.insert(name)
        return object[name]
    }

    mutating func bool(_ name: String) throws(ProtocolError) -> Bool? {
        consumed.insert(name)
        guard let value = object[name], value != .null else { return nil }
        guard case .bool(let flag) = value else {
            throw ProtocolError(.invalidField, "\(name) must be true or false, got \(value.typeName)", field: name)
        }
        return flag
    }

    /// A job id: the string from a speak reply; a number is accepted too (ids are decimal).
    mutating func jobID(_ name: String) throws(ProtocolError) -> String? {
        consumed.insert(name)
        guard let value = object[name], value != .null else { return nil }
        if let number = value.numberValue, number.rounded() == number, number >= 0, number < 1e15 {
            return String(Int(number))
        }
        guard let string = value.stringValue, !string.isEmpty, string.count <= 32 else {
            throw ProtocolError(.invalidField, "\(name) must be a job id such as \"7\", got \(value.typeName)", field: name)
        }
        return string
    }

    func rejectUnknown() throws(ProtocolError) {
        if let unknown = object.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw ProtocolError(.invalidField, "unknown field \"\(unknown)\" for this op", field: unknown)
        }
    }
}
