// libFuzzer target: the HTTP door's `POST /v1/speak` body (HTTPSpeakBody) and the speak request it becomes.
// Input: [content-type choice][if fuzzed: length, bytes][body].
// Properties: never crashes; a refusal has a code and a message; only UTF-8 is accepted (as on the socket); a
// text/plain body (media type in any case, with parameters) is exactly `input`; the fields carry no envelope; the daemon's line asks for `speak` only; an
// accepted request round-trips; a JSON object is accepted or refused exactly as the socket would the same fields.

import Foundation

let contentTypes: [String?] = [nil, "application/json", "application/json; charset=utf-8", "text/plain",
                               "text/plain; charset=utf-8", "Text/Plain;charset=UTF-8", " text/plain ", "text/plainx",
                               "text/html", ""]

@_cdecl("LLVMFuzzerTestOneInput")
public func httpBodyFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let choice = Int(input.byte())
    let contentType = choice < contentTypes.count
        ? contentTypes[choice] : String(decoding: input.take(Int(input.byte()) % 48), as: UTF8.self)
    let body = input.rest()

    switch HTTPSpeakBody.fields(body, contentType: contentType) {
    case .failure(let refusal):
        fuzzCheck(!refusal.code.isEmpty && !refusal.message.isEmpty, "a refusal without a code or message")
        fuzzCheck(!HTTPSpeakBody.isPlainText(contentType) || String(validating: body, as: UTF8.self) == nil,
                  "a UTF-8 text/plain body was refused")
    case .success(let fields):
        fuzzCheck(String(validating: body, as: UTF8.self) != nil, "a body that is not UTF-8 was accepted")
        if HTTPSpeakBody.isPlainText(contentType) {
            fuzzCheck(fields == ["input": .string(String(decoding: body, as: UTF8.self))], "text/plain is not the input")
            checkDoorSpeak(fields, socketLine: nil)
        } else {
            let keys = rawObjectKeys(body)
            fuzzCheck(keys != nil, "accepted a body that is not a JSON object")
            checkDoorSpeak(fields, socketLine: socketLine(forObject: body, fields: fields, rawKeys: keys ?? []))
        }
    }
    // Media types ignore case and surrounding space.
    if let contentType, contentType.utf8.allSatisfy({ $0 < 0x80 }) {
        fuzzCheck(HTTPSpeakBody.isPlainText(" " + contentType.uppercased()) == HTTPSpeakBody.isPlainText(contentType),
                  "text/plain detection depends on case: \(contentType.debugDescription)")
    }
    return 0
}
