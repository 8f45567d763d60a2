// The request round trip shared by request-line and request-stream.

func checkRequestLine(_ line: [UInt8]) {
    switch RequestParser.parse(line) {
    case .failure(let failure):
        fuzzCheck(!failure.error.message.isEmpty, "a refusal without a message")
    case .success(let request):
        let encoded = WireCodec.encodeRequest(id: request.id, op: request.operation.name,
                                              fields: wireFields(of: request.operation))
        fuzzCheck(encoded.last == UInt8(ascii: "\n") && !encoded.dropLast().contains(UInt8(ascii: "\n")),
                  "an encoded request is not exactly one line")
        switch RequestParser.parse(encoded.dropLast()) {
        case .success(let again):
            fuzzCheck(again == request, "round trip changed the request: \(request) became \(again)")
        case .failure(let failure):
            fuzzFail("an accepted request, encoded again, is refused: \(failure.error.message) (\(request))")
        }
    }
}

/// The members a client sends for `operation` (every optional member that is set).
func wireFields(of operation: Operation) -> [String: JSONValue] {
    func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    func optional(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }
    func speakFields(_ p: SpeakParameters) -> [String: JSONValue] {
        let fields: [String: JSONValue] = [
            "voice": optional(p.voice), "model": optional(p.model), "instructions": optional(p.instructions),
            "speed": optional(p.speed), "upstream": optional(p.upstream),
        ]
        return fields.filter { $0.value != .null }
    }
    switch operation {
    case .speak(let p):
        var fields = speakFields(p)
        fields["input"] = .string(p.input)
        fields["priority"] = .string(p.priority.rawValue)
        if let volume = p.volume { fields["volume"] = .number(volume) }
        if let ttl = p.ttl { fields["ttl"] = .number(ttl) }
        fields["interrupt"] = .bool(p.interrupt)
        if let archive = p.archive { fields["archive"] = .bool(archive) }
        if let save = p.save { fields["save"] = .string(save.rawValue) }
        fields["play"] = .bool(p.play)
        fields["cache"] = .bool(p.cache)
        if let normalize = p.normalize { fields["normalize"] = .bool(normalize) }
        if let leadIn = p.leadInMilliseconds { fields["lead_in_ms"] = .number(Double(leadIn)) }
        if let chime = p.chime { fields["chime"] = .string(chime) }
        if let chimeAfter = p.chimeAfter { fields["chime_after"] = .string(chimeAfter) }
        if let mediaRole = p.mediaRole { fields["media_role"] = .string(mediaRole) }
        if !p.marks.isEmpty {
            fields["marks"] = .array(p.marks.map { .object(["name": .string($0.name), "at": .number(Double($0.offset))]) })
        }
        return fields
    case .cache(.stats): return ["action": .string("stats")]
    case .cache(.clear): return ["action": .string("clear")]
    case .cache(.warm(let phrases, let p)):
        var fields = speakFields(p)
        fields["action"] = .string("warm")
        fields["phrases"] = .array(phrases.map(JSONValue.string))
        return fields
    case .cancel(let job): return ["job": .string(job)]
    case .endAtMark(let job, let prefix): return ["job": .string(job), "prefix": .string(prefix)]
    case .upstreamCheck(let p):
        return ["upstream": optional(p.upstream), "voice": optional(p.voice), "model": optional(p.model)]
            .filter { $0.value != .null }
    case .stop, .status, .ping, .subscribe, .skip, .pause, .resume, .list, .metrics: return [:]
    }
}
