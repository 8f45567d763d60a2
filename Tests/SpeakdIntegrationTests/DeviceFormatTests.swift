import Foundation
import XCTest

/// `[audio] sample_rate` / `channels`: the device stays at one format and every source is resampled and remapped to
/// it by the writer's processing chain (libsoxr): speed and pitch kept, both channels alike, one open for sources
/// at different rates.
final class DeviceFormatTests: IntegrationTestCase {
    private static let text = String(repeating: "tone ", count: 20).trimmingCharacters(in: .whitespaces)

    func testEverySourcePlaysAtTheFixedDeviceFormat() throws {
        let upstream = try MockUpstream(["--voice-format", "--tone", "440", "--ms-per-char", "30"], in: directory)
        self.upstream = upstream
        let config = directory.appendingPathComponent("speakd.toml")
        try "[audio]\nsample_rate = 48000\nchannels = 2\n".write(to: config, atomically: true, encoding: .utf8)
        let capture = directory.appendingPathComponent("capture.wav").path
        let daemon = try DaemonProcess(arguments: ["--config", config.path, "--api-base", upstream.baseURL,
                                                   "--device", "file:FILE=\(capture),FORMAT=wav", "--fallback", "none",
                                                   "--no-cache"], in: directory)
        for voice in ["pcm|24000|1|audio/pcm", "wav|22050|2"] {
            let result = try daemon.speakctl(["--wait", "--voice", voice, Self.text])
            XCTAssertEqual(result.status, 0, "\(voice): \(result.stderr)")
        }
        _ = daemon.stop()
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: capture)))
        func le(_ at: Int, _ width: Int) -> Int { (0..<width).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var offset = 12, rate = 0, channels = 0
        var samples: [Int16] = []
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            if id == "fmt " { channels = le(offset + 10, 2); rate = le(offset + 12, 4) }
            if id == "data" {
                samples = Array(bytes[(offset + 8)...]).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
                break
            }
            offset += 8 + le(offset + 4, 4)
        }
        XCTAssertEqual(rate, 48_000)
        XCTAssertEqual(channels, 2)
        let left = stride(from: 0, to: samples.count - 1, by: 2).map { samples[$0] }
        let right = stride(from: 1, to: samples.count, by: 2).map { samples[$0] }
        XCTAssertEqual(left, right, "mono copied to both channels, stereo tone alike in both")
        // Two jobs of 3 s each (99 characters at 30 ms), one device open for both: 6 s at 48 kHz.
        XCTAssertEqual(Double(left.count) / 48_000, 2 * Double(Self.text.count) * 0.030, accuracy: 0.2)
        guard let start = left.firstIndex(where: { abs($0) > 2_000 }), let end = left.lastIndex(where: { abs($0) > 2_000 }),
              end - start > 48_000 else { return XCTFail("no tone in what was played") }
        var crossings = 0
        for index in (start + 1)...end where (left[index - 1] < 0) != (left[index] < 0) { crossings += 1 }
        let hertz = Double(crossings) / 2 / (Double(end - start) / 48_000)
        XCTAssertEqual(hertz, 440, accuracy: 440 * 0.01, "pitch \(hertz) Hz")
    }
}
