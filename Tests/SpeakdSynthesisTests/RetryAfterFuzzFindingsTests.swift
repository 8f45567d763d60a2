import NIOHTTP1
import XCTest
@testable import SpeakdSynthesis
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Upstream answers the upstream-error fuzzer (scripts/fuzz upstream-error) found mishandled, kept as regression
/// tests.
final class RetryAfterFuzzFindingsTests: XCTestCase {
    /// An HTTP-date with a huge day, year or hour overflowed `days * 86_400` and trapped: any upstream (or a proxy in
    /// front of it) could kill the daemon with one 429. Out-of-range fields now make the date unreadable (no wait).
    func testOutOfRangeHTTPDateFieldsAreIgnored() {
        for value in ["Wed, 99999999999999999 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 99999999999999999 07:28:00 GMT",
                      "Wed, 21 Oct 2015 99999999999999999:28:00 GMT", "Wed, 0 Oct 2015 07:28:00 GMT",
                      "Wed, 21 Oct 2015 24:00:00 GMT", "Wed, -3 Oct 2015 07:28:00 GMT"] {
            XCTAssertNil(RetryAfter.seconds(from: HTTPHeaders([("Retry-After", value)])), value)
        }
        let now = Date(timeIntervalSince1970: 1_445_412_470)
        XCTAssertEqual(RetryAfter.seconds(from: HTTPHeaders([("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")]), now: now), 10)
        XCTAssertEqual(RetryAfter.seconds(from: HTTPHeaders([("Retry-After", "Thu, 31 Dec 2015 23:59:60 GMT")]),
                                           now: Date(timeIntervalSince1970: 1_451_606_400)), 0)
    }
}
