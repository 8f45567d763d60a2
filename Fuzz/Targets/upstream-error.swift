import NIOHTTP1
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target: what an upstream says when it refuses: error bodies (UpstreamErrorBody) and the wait it asks
// for (RetryAfter: Retry-After seconds or HTTP-date, x-ratelimit-reset-* durations).
// Input: [mode][...]. Properties: never crashes; a body always yields a non-empty message of bounded length; an
// OpenAI-shaped error body yields its message and code (a blank message: the body); a wait is never negative or NaN; Retry-After in whole
// seconds reads as itself; an HTTP-date reads as the seconds until it (checked against libc's timegm).

@_cdecl("LLVMFuzzerTestOneInput")
public func upstreamErrorFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    switch input.byte() % 4 {
    case 0: checkErrorBody(input.rest())
    case 1: checkOpenAIErrorBody(&input)
    case 2: checkRetryHeaders(&input)
    default: checkHTTPDate(&input)
    }
    return 0
}

func checkErrorBody(_ body: [UInt8]) {
    let parsed = UpstreamErrorBody.parse(body)
    fuzzCheck(!parsed.message.isEmpty, "an empty message for a body of \(body.count) bytes")
}

func checkOpenAIErrorBody(_ input: inout FuzzInput) {
    let message = String(decoding: input.take(input.below(48)), as: UTF8.self)
    let code = String(decoding: input.take(input.below(16)), as: UTF8.self)
    let object: [String: JSONValueLite] = ["error": .object(["message": .string(message), "code": .string(code),
                                                             "type": .string("invalid_request_error")])]
    let body = Array(try! JSONEncoder().encode(object))
    let parsed = UpstreamErrorBody.parse(body)
    if message.trimmedForDisplay.isEmpty {
        // Nothing to say: the body itself is shown.
        fuzzCheck(parsed.message == String(String(decoding: body, as: UTF8.self).trimmedForDisplay.prefix(300)) && parsed.code == nil,
                  "OpenAI body with a blank message \(String(decoding: body, as: UTF8.self)) read as \(parsed)")
    } else {
        fuzzCheck(parsed.message == message && parsed.code == code,
                  "OpenAI body \(String(decoding: body, as: UTF8.self)) read as \(parsed)")
    }
}

/// A JSON value to write test bodies with.
indirect enum JSONValueLite: Encodable {
    case string(String), object([String: JSONValueLite])
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .object(let o): try container.encode(o)
        }
    }
}

func checkRetryHeaders(_ input: inout FuzzInput) {
    let names = ["Retry-After", "retry-after", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "X-Other"]
    var headers = HTTPHeaders()
    while !input.isAtEnd {
        let name = names[input.below(names.count)]
        let value = String(decoding: input.take(input.below(40)), as: UTF8.self)
        // NIO refuses header values with CR/LF on the wire; AsyncHTTPClient never hands those over.
        guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { continue }
        headers.add(name: name, value: value)
    }
    let now = Date(timeIntervalSince1970: 1_750_000_000)
    if let seconds = RetryAfter.seconds(from: headers, now: now) {
        fuzzCheck(!seconds.isNaN && seconds >= 0, "a wait of \(seconds) s from \(headers)")
    }
    if let value = headers.first(name: "Retry-After"), let whole = Int(value), whole >= 0 {
        fuzzCheck(RetryAfter.seconds(from: headers, now: now) == Double(whole), "Retry-After: \(value) misread")
    }
}

func checkHTTPDate(_ input: inout FuzzInput) {
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    let monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    let year = 1970 + input.below(130), month = input.below(12)
    let day = 1 + input.below(monthDays[month]), hour = input.below(24), minute = input.below(60), second = input.below(60)
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let text = "Wed, \(two(day)) \(months[month]) \(year) \(two(hour)):\(two(minute)):\(two(second)) GMT"
    var fields = tm()
    fields.tm_year = Int32(year - 1900); fields.tm_mon = Int32(month); fields.tm_mday = Int32(day)
    fields.tm_hour = Int32(hour); fields.tm_min = Int32(minute); fields.tm_sec = Int32(second)
    let expected = Double(timegm(&fields))
    let now = Date(timeIntervalSince1970: Double(input.uint16()) * 100_000)
    var headers = HTTPHeaders()
    headers.add(name: "Retry-After", value: text)
    let seconds = RetryAfter.seconds(from: headers, now: now)
    fuzzCheck(seconds == max(expected - now.timeIntervalSince1970, 0), "Retry-After: \(text) read as \(String(describing: seconds))")
}
