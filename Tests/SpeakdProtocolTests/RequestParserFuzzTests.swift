import XCTest
@testable import SpeakdProtocol

/// A bounded property-based fuzz of the request decoder (run in CI with the other tests): random bytes, and valid
/// requests with random mutations. The parser must never crash, and must answer every line with either a request
/// or an error that has a code and a message.
final class RequestParserFuzzTests: XCTestCase {
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private let seeds: [String] = [
        #"{"op":"speak","input":"Hello there.","voice":"nova","speed":1.25,"priority":"important","ttl":30,"volume":0.5}"#,
        #"{"id":7,"op":"cancel","job":"12"}"#,
        #"{"op":"status","v":1}"#,
        #"{"op":"subscribe"}"#,
        #"{"id":"x","op":"speak","input":"\u00e9t\u00e9","interrupt":true,"upstream":"kokoro"}"#,
    ]

    private func check(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        switch RequestParser.parse(bytes) {
        case .success: break
        case .failure(let failure):
            XCTAssertFalse(failure.error.message.isEmpty, "empty message for \(bytes.prefix(80))", file: file, line: line)
        }
    }

    func testRandomBytesNeverCrashTheParser() {
        var random = Generator(state: 1)
        for _ in 0..<20_000 {
            let length = Int(random.next() % 64)
            check((0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
    }

    func testMutatedRequestsNeverCrashTheParser() {
        var random = Generator(state: 2)
        let alphabet = Array(#"{}[]":,.-+0123456789eEtrufalsn\ "#.utf8) + [0, 0xC3, 0xA9, 0xFF, 0x80]
        for _ in 0..<40_000 {
            var bytes = Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                switch random.next() % 4 {
                case 0: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                case 2 where position < bytes.count: bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                default: bytes = Array(bytes.prefix(position))
                }
            }
            check(bytes)
        }
    }

    func testDeepNestingAndHugeNumbersAreRefusedCleanly() {
        check(Array(String(repeating: "[", count: 100_000).utf8))
        check(Array(#"{"op":"speak","input":"x","speed":1e999999}"#.utf8))
        check(Array(#"{"op":"cancel","job":1e300}"#.utf8))
        check(Array(#"{"op":"speak","input":"x","ttl":-0}"#.utf8))
    }
}
