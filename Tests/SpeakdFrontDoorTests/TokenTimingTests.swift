import Foundation
@testable import SpeakdHTTP
import XCTest

/// A wrong token must not reveal, by the time its check takes, how much of it was right. The comparison is timed on
/// long tokens (so an early exit would stand far above the noise), interleaved and taken as medians (so the machine's
/// other load falls on every kind alike), beside an early-exit comparison of the same inputs as the control that
/// shows the measurement can see the difference it looks for.
final class TokenTimingTests: XCTestCase {
    private static func nanoseconds(rounds: Int, _ body: () -> Void) -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        for _ in 0..<rounds { body() }
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double((end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)) / Double(rounds)
    }

    /// Median time per comparison of `token` with each candidate, interleaved over `samples` rounds.
    private static func medians(_ token: [UInt8], _ candidates: [[UInt8]], samples: Int,
                                compare: ([UInt8], [UInt8]) -> UInt8) -> [Double] {
        var times = Array(repeating: [Double](), count: candidates.count)
        var sink: UInt8 = 0
        for _ in 0..<samples {
            for (index, candidate) in candidates.enumerated() {
                times[index].append(nanoseconds(rounds: 8) { sink &+= compare(token, candidate) })
            }
        }
        XCTAssertLessThan(sink, 255)   // the result is used: the loop is not optimised away
        return times.map { $0.sorted()[$0.count / 2] }
    }

    func testAWrongTokenTakesAsLongWhereverItDiffers() {
        let token = (0..<4_096).map { UInt8(truncatingIfNeeded: 97 + $0 % 26) }
        var firstByte = token, lastByte = token
        firstByte[0] ^= 1
        lastByte[token.count - 1] ^= 1
        let candidates = [firstByte, lastByte, token]
        let earlyExit: ([UInt8], [UInt8]) -> UInt8 = { a, b in
            guard a.count == b.count else { return 0 }
            for index in a.indices where a[index] != b[index] { return 0 }
            return 1
        }
        let control = Self.medians(token, candidates, samples: 301, compare: earlyExit)
        XCTAssertGreaterThan(control[1], control[0] * 4, "the measurement cannot tell an early exit (\(control) ns)")
        let constant = Self.medians(token, candidates, samples: 301, compare: BearerTokens.equal)
        // First byte wrong, last byte wrong, right: the same work, within what a busy machine adds.
        for (kind, time) in zip(["last byte wrong", "right token"], constant.dropFirst()) {
            XCTAssertLessThan(abs(time - constant[0]) / constant[0], 0.25, "\(kind): \(constant) ns (first byte wrong first)")
        }
        XCTAssertEqual(BearerTokens.equal(token, firstByte), 0)
        XCTAssertEqual(BearerTokens.equal(token, lastByte), 0)
        XCTAssertEqual(BearerTokens.equal(token, token), 1)
    }

    /// A wrong length is compared over the longer input too, not refused at once.
    func testAWrongLengthIsNotRefusedAtOnce() {
        let token = [UInt8](repeating: 120, count: 4_096)
        let short = [UInt8](repeating: 120, count: 8)
        let times = Self.medians(token, [short, token], samples: 301, compare: BearerTokens.equal)
        XCTAssertLessThan(abs(times[0] - times[1]) / times[1], 0.25, "\(times) ns (short, right)")
    }
}
