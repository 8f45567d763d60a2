// libFuzzer target: a message on the MQTT door's topics (MQTTPayload): `…/say` (a JSON object of speak fields, or
// text) and `…/command` (stop, pause, resume, skip). Input: [topic: even say, odd command][payload].
// Properties: never crashes; only UTF-8 is accepted (as on the socket), a refusal has a message; a payload that is
// not a JSON object is exactly `input`; the fields carry no envelope;
// the daemon's line asks for `speak` only; an accepted request round-trips; a JSON object is accepted or refused
// exactly as the socket would the same fields. A command is one of the four or refused with a message that quotes
// it; case and surrounding whitespace do not matter; the daemon's line for it parses to that operation.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func mqttPayloadFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let say = input.byte() % 2 == 0
    let payload = input.rest()
    if say {
        let fields: [String: JSONValue]
        switch MQTTPayload.speakFields(payload) {
        case .success(let decoded):
            fuzzCheck(String(validating: payload, as: UTF8.self) != nil, "a payload that is not UTF-8 was accepted")
            fields = decoded
        case .failure(let error):
            fuzzCheck(String(validating: payload, as: UTF8.self) == nil && !error.message.isEmpty,
                      "a UTF-8 payload was refused, or without a message: \(error)")
            return 0
        }
        if let keys = payload.first == UInt8(ascii: "{") ? rawObjectKeys(payload) : nil {
            checkDoorSpeak(fields, socketLine: socketLine(forObject: payload, fields: fields, rawKeys: keys))
        } else {
            fuzzCheck(fields == ["input": .string(String(decoding: payload, as: UTF8.self))], "text is not the input")
            checkDoorSpeak(fields, socketLine: nil)
        }
        return 0
    }
    let result = MQTTPayload.command(payload)
    switch result {
    case .success(let command):
        fuzzCheck(MQTTPayload.commands.contains(command), "accepted the command \(command)")
        var line = WireCodec.encodeRequest(id: .number(1), op: command)
        line.removeLast()
        guard case .success(let request) = RequestParser.parse(line) else { fuzzFail("the command \(command) is refused") }
        fuzzCheck(request.operation.name == command, "the command \(command) became \(request.operation.name)")
    case .failure(let error):
        fuzzCheck(!error.message.isEmpty && error.message.contains("unknown command"), "a refusal without a message")
    }
    // Case and whitespace around do not matter (for ASCII: Unicode case mapping may change lengths).
    if payload.allSatisfy({ $0 < 0x80 }) {
        let shouted = Array(("\t " + String(decoding: payload, as: UTF8.self).uppercased() + " \n").utf8)
        fuzzCheck((try? MQTTPayload.command(shouted).get()) == (try? result.get()),
                  "case or whitespace changed the command \(String(decoding: payload, as: UTF8.self).debugDescription)")
    }
    return 0
}
