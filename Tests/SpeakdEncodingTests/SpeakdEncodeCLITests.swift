import Foundation
import XCTest
@testable import SpeakdEncoding

/// speakd-encode as a user (and scripts/bench-encode) runs it: files, a pipe to standard output, and kill -9.
final class SpeakdEncodeCLITests: XCTestCase {
    /// The built executable, beside the test bundle.
    static let executable: String = {
        var url = Bundle(for: SpeakdEncodeCLITests.self).bundleURL
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("speakd-encode").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/speakd-encode").path
    }()

    func testEncodesAFileWithTagsFromTheCommandLine() throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: 22_050, seconds: 2, noise: 0.2)
        try writeBytes(samples.withUnsafeBytes { Array($0) }, to: scratch.file("in.raw"))
        let output = scratch.file("out.flac")
        let status = try run([Self.executable, "--rate", "22050", "--flac-level", "8", "--text", "Hello",
                              "--voice", "nova", scratch.file("in.raw"), output])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(try Tool.ffmpegDecode(output, rate: 22_050) == samples)
        XCTAssertEqual(try Tool.tags(output)["title"], "Hello")
        XCTAssertEqual(scratch.contents(), ["in.raw", "out.flac"])
    }

    /// Standard output is a pipe: the FLAC encoder holds the stream and writes it with exact STREAMINFO at the end.
    func testStreamsToAPipe() throws {
        let scratch = try ScratchDirectory()
        let samples = TestSignal.chirp(rate: 24_000, seconds: 2, noise: 0.2)
        try writeBytes(samples.withUnsafeBytes { Array($0) }, to: scratch.file("in.raw"))
        for format in ["flac", "mp3", "opus", "wav"] {
            let process = try Subprocess(Self.executable, ["--format", format, scratch.file("in.raw"), "-"])
            let (status, data, _) = process.finishData()
            XCTAssertEqual(status, 0, format)
            let path = scratch.file("piped." + format)
            try data.write(to: URL(fileURLWithPath: path))
            let decoded = try Tool.ffmpegDecode(path, rate: 24_000)
            if format == "flac" || format == "wav" {
                XCTAssertTrue(decoded == samples, format)
            } else {
                XCTAssertLessThanOrEqual(abs(decoded.count - samples.count), 576, format)
            }
        }
        try Tool.run("flac", ["-t", "-s", scratch.file("piped.flac")])
    }

    /// Killed mid-write, nothing appears under the final name; only the temporary remains, and the next start's
    /// cleanup removes it.
    func testKillNineLeavesOnlyATemporaryThatCleanupRemoves() throws {
        let scratch = try ScratchDirectory()
        let fifo = scratch.file("in.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let output = scratch.file("archive.wav")
        let process = try Subprocess(Self.executable, [fifo, output])
        let writer = try XCTUnwrap(FileHandle(forWritingAtPath: fifo))
        // 200 KiB: more than the sink's 64 KiB buffer, so bytes have reached the temporary file.
        writer.write(Data(TestSignal.chirp(rate: 24_000, seconds: 4.3).withUnsafeBytes { Array($0) }))
        let deadline = Date().addingTimeInterval(10)
        func temporaries() -> [String] { scratch.contents().filter { $0.hasSuffix(".partial") } }
        while Date() < deadline {
            let partial = temporaries().first.map { scratch.file($0) }
            let size = partial.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int } ?? 0
            if size > 0 { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? writer.close()
        XCTAssertTrue(process.wasSignalled)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(temporaries().count, 1, "\(scratch.contents())")
        XCTAssertEqual(AtomicFile.removeStalePartials(in: scratch.path).count, 1)
        XCTAssertEqual(scratch.contents(), ["in.fifo"])
    }

    func testRefusesAnUnknownFormatWithoutLeavingAFile() throws {
        let scratch = try ScratchDirectory()
        try writeBytes([0, 0], to: scratch.file("in.raw"))
        XCTAssertEqual(try run([Self.executable, scratch.file("in.raw"), scratch.file("out.aac")]), 64)
        XCTAssertEqual(try run([Self.executable, "--vbr", "12", scratch.file("in.raw"), scratch.file("out.mp3")]), 1)
        XCTAssertEqual(scratch.contents(), ["in.raw"])
    }

    private func run(_ command: [String]) throws -> Int32 {
        try Subprocess(command[0], Array(command.dropFirst()), stdout: .null, stderr: .null).finish().status
    }
}
