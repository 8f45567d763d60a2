import SpeakdCore
@testable import SpeakdSnapcast
import XCTest

final class SnapcastSourceTests: XCTestCase {
    func testTCPAndPipeSourcesWithTheirFormat() throws {
        let tcp = try SnapcastSource(uri: "tcp://127.0.0.1:4953?name=announce", sampleFormat: "48000:16:2")
        XCTAssertEqual(tcp.endpoint, .tcp(host: "127.0.0.1", port: 4953))
        XCTAssertEqual(tcp.format, PCMFormat(sampleRate: 48_000, channels: 2))
        let v6 = try SnapcastSource(uri: "tcp://[::1]:4953", sampleFormat: "44100:16:1")
        XCTAssertEqual(v6.endpoint, .tcp(host: "::1", port: 4953))
        let pipe = try SnapcastSource(uri: "pipe:///run/snapfifo", sampleFormat: "48000:16:2")
        XCTAssertEqual(pipe.endpoint, .pipe(path: "/run/snapfifo"))
    }

    func testBadSourcesAreRefusedWithTheReason() {
        for (uri, format, words) in [("tcp://host", "48000:16:2", "HOST:PORT"), ("pipe://relative", "48000:16:2", "absolute"),
                                     ("http://x:1", "48000:16:2", "tcp://"), ("tcp://h:1", "48000:24:2", "16-bit"),
                                     ("tcp://h:1", "48000:16:6", "RATE:16:CHANNELS"), ("tcp://h:99999", "48000:16:2", "HOST:PORT")] {
            XCTAssertThrowsError(try SnapcastSource(uri: uri, sampleFormat: format), uri) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
    }
}
