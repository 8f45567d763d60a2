import XCTest
@testable import SpeakdDaemon

/// Inputs the TOML fuzzer (scripts/fuzz toml) found mishandled, kept as regression tests.
final class TOMLFuzzFindingsTests: XCTestCase {
    /// A file saved with CRLF line ends read as one line: Swift's String.split saw "\r\n" as one Character, never
    /// equal to "\n", so the first value swallowed the rest ("unexpected text after the value").
    func testCRLFLineEndsReadLikeLF() throws {
        let lf = "a = 1\n[upstream.local]\nbase_url = \"http://127.0.0.1:8880\"\nspeed = 1.5e0\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        XCTAssertEqual(crlf.utf8.filter { $0 == UInt8(ascii: "\r") }.count, 4)
        let document = try TOMLDocument(parsing: crlf)
        XCTAssertEqual(document.root["a"]?.value, .integer(1))
        guard case .table(let upstream)? = document.root["upstream"]?.value,
              case .table(let local)? = upstream["local"]?.value else { return XCTFail("no [upstream.local] table") }
        XCTAssertEqual(local["base_url"]?.value, .string("http://127.0.0.1:8880"))
        XCTAssertEqual(local["speed"]?.value, .float(1.5))
        XCTAssertEqual(local["speed"]?.line, 4)
    }

    /// A newline followed by a combining mark is one Character too: the mark's line is still line 2.
    func testLineStartingWithACombiningMarkIsItsOwnLine() {
        XCTAssertThrowsError(try TOMLDocument(parsing: "a = 1\n\u{301}b = 2")) { error in
            XCTAssertEqual((error as? TOMLDocument.ParseError)?.line, 2, "\(error)")
        }
    }

    /// `1e999` read as infinity: accepted, it reached an upstream's extra body fields, where JSON cannot encode it,
    /// so every request failed. Now refused with its line.
    func testFloatBeyondDoubleIsRefused() {
        for text in ["x = 1e999", "x = -1.5e400", "x = [1.0, 9e9999]"] {
            XCTAssertThrowsError(try TOMLDocument(parsing: "a = 1\n" + text), text) { error in
                XCTAssertEqual((error as? TOMLDocument.ParseError)?.line, 2, "\(error)")
                XCTAssertTrue("\(error)".contains("out of range"), "\(error)")
            }
        }
        XCTAssertEqual(try TOMLDocument(parsing: "x = 1.7e308").root["x"]?.value, .float(1.7e308))
    }
}
