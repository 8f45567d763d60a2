import SpeakdCore
import XCTest
@testable import SpeakdDaemon

/// `[audio] sample_rate` / `channels`: a fixed device format, both or neither, within the range the resampler takes.
final class DeviceFormatSettingTests: XCTestCase {
    private func resolve(_ text: String) throws -> ResolvedSettings {
        let file = try ConfigurationFile(path: "c.toml", text: text)
        return try SettingsResolver.resolve(flags: CommandLineSettings(), environment: ["XDG_RUNTIME_DIR": "/run/user/7"],
                                            file: file)
    }

    func testBothKeysFixTheDeviceFormat() throws {
        let settings = try resolve("[audio]\nsample_rate = 48000\nchannels = 2")
        XCTAssertEqual(settings.options.deviceFormat, PCMFormat(sampleRate: 48_000, channels: 2))
        XCTAssertNil(try resolve("[audio]\ndevice = \"default\"").options.deviceFormat, "default: each source's format")
    }

    func testOneWithoutTheOtherOrOutOfRangeIsRefused() {
        XCTAssertThrowsError(try resolve("[audio]\nsample_rate = 48000")) {
            XCTAssertTrue("\($0)".contains("set both or neither"), "\($0)")
        }
        XCTAssertThrowsError(try resolve("[audio]\nsample_rate = 48000\nchannels = 6")) {
            XCTAssertTrue("\($0)".contains("between 1 and 2"), "\($0)")
        }
        XCTAssertThrowsError(try resolve("[audio]\nsample_rate = 1000\nchannels = 1"))
    }
}
