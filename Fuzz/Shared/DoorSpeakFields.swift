import Foundation

// Checks shared by the front-door payload targets (http-body, mqtt-payload): the speak fields a door decoded, as
// the daemon receives them (FrontDoorBackend.speak: WireCodec.encodeRequest(id: 1, op: "speak", fields)).

/// The door's fields lack the envelope; the line the daemon gets is one line and asks for `speak` and nothing
/// else (a payload cannot choose another operation); an accepted request round-trips; a refusal has a message.
/// With `socketLine` (the same object sent on the socket, the door's envelope spliced in), both are accepted
/// alike or refused for the same reason.
func checkDoorSpeak(_ fields: [String: JSONValue], socketLine: [UInt8]?) {
    for key in ["op", "id", "v"] { fuzzCheck(fields[key] == nil, "the door passed the envelope key \(key)") }
    var line = WireCodec.encodeRequest(id: .number(1), op: "speak", fields: fields)
    fuzzCheck(line.last == UInt8(ascii: "\n") && !line.dropLast().contains(UInt8(ascii: "\n")),
              "the line for the daemon is not exactly one line")
    line.removeLast()
    let door = RequestParser.parse(line)
    switch door {
    case .success(let request):
        fuzzCheck(request.id == .number(1), "the door's id became \(request.id)")
        guard case .speak = request.operation else { fuzzFail("a speak payload became \(request.operation)") }
        checkRequestLine(line)
    case .failure(let failure):
        fuzzCheck(!failure.error.message.isEmpty, "a refusal without a message")
    }
    guard let socketLine else { return }
    switch (door, RequestParser.parse(socketLine)) {
    case (.success(let a), .success(let b)):
        fuzzCheck(a == b, "the door made \(a.operation), the socket \(b.operation) of the same fields")
    case (.failure(let a), .failure(let b)):
        fuzzCheck(a.error.code == b.error.code && a.error.field == b.error.field,
                  "the door refused with \(a.error), the socket with \(b.error)")
    case (.success(let a), .failure(let b)):
        fuzzFail("the door accepted \(a.operation); the socket refused the same fields: \(b.error)")
    case (.failure(let a), .success(let b)):
        fuzzFail("the door refused (\(a.error)); the socket accepted the same fields: \(b.operation)")
    }
}

/// `body`, a JSON object's text without envelope keys, as a socket line with the door's envelope spliced in after
/// its `{`; nil when the text does not start with `{` (after JSON whitespace), names an envelope key itself, or
/// holds a NUL byte: UTF-8 JSON never does, and JSONDecoder reads such text as UTF-16 or UTF-32 (`{\0}\0` is `{}`),
/// on the socket as at the doors, so splicing UTF-8 into it would compare different documents.
func socketLine(forObject body: [UInt8], fields: [String: JSONValue], rawKeys: Set<String>) -> [UInt8]? {
    guard rawKeys.isDisjoint(with: ["op", "id", "v"]), !body.contains(0),
          let brace = body.firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }),
          body[brace] == UInt8(ascii: "{") else { return nil }
    var line = Array(#"{"op":"speak","id":1,"v":1"#.utf8)
    if !fields.isEmpty { line.append(UInt8(ascii: ",")) }
    line += body[(brace + 1)...]
    return line
}

/// The member names of a JSON object text, as decoded (duplicates collapse).
func rawObjectKeys(_ body: [UInt8]) -> Set<String>? {
    guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return nil }
    return Set(object.keys)
}
