import Foundation
import SpeakdSnapcast
import XCTest
@testable import SpeakdDaemon

/// `[snapcast]`: resolved into the output's options, mistakes refused with their line and reason, and shown by
/// `--check-config`.
final class SnapcastConfigurationTests: XCTestCase {
    private func resolve(_ text: String) throws -> ResolvedSettings {
        try SettingsResolver.resolve(flags: CommandLineSettings(), environment: [:],
                                     file: ConfigurationFile(path: "c.toml", text: text))
    }

    func testOffUnlessASourceIsGiven() throws {
        XCTAssertNil(try resolve("").options.snapcast)
        XCTAssertNil(try resolve("[snapcast]\nbuffer_ms = 400\n").options.snapcast)
    }

    func testASourceWithItsOptions() throws {
        let settings = try resolve("""
            [snapcast]
            source = "tcp://house.lan:4953"
            sample_format = "44100:16:1"
            buffer_ms = 400
            local = false
            control = "house.lan:1705"
            groups = "kitchen, living room"
            """)
        let snapcast = try XCTUnwrap(settings.options.snapcast)
        XCTAssertEqual(snapcast.source.endpoint, .tcp(host: "house.lan", port: 4953))
        XCTAssertEqual(snapcast.source.format.sampleRate, 44_100)
        XCTAssertEqual(snapcast.source.format.channels, 1)
        XCTAssertEqual(snapcast.bufferMilliseconds, 400)
        XCTAssertFalse(snapcast.local)
        XCTAssertEqual(snapcast.control, HostAndPort("house.lan:1705"))
        XCTAssertEqual(snapcast.stream, "announce")
        XCTAssertEqual(snapcast.groups, ["kitchen", "living room"])
        let shown = settings.describe()
        XCTAssertTrue(shown.contains("source = \"tcp://house.lan:4953\""), shown)
        XCTAssertTrue(shown.contains("control = \"house.lan:1705\""), shown)
    }

    func testMistakesAreRefusedWithTheirLine() {
        for (text, words) in [("[snapcast]\nsource = \"udp://x:1\"\n", "tcp://HOST:PORT or pipe"),
                              ("[snapcast]\nsource = \"tcp://x:1\"\nsample_format = \"48000:32:2\"\n", "16-bit"),
                              ("[snapcast]\nsource = \"tcp://x:1\"\ncontrol = \"x\"\n", "HOST:PORT"),
                              ("[snapcast]\ncontrol = \"x:1705\"\n", "need a source"),
                              ("[snapcast]\nsource = \"tcp://x:1\"\nbuffer = 3\n", "unknown key")] {
            XCTAssertThrowsError(try resolve(text), text) { error in
                XCTAssertTrue("\(error)".contains(words), "\(text): \(error)")
                XCTAssertTrue("\(error)".contains("c.toml:"), "\(error)")
            }
        }
    }
}
