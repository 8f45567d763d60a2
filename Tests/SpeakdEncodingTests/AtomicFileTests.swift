import Foundation
import XCTest
@testable import SpeakdEncoding
@testable import SpeakdSinks
import SpeakdCore

/// Archives appear under their final name only once complete; leftovers are cleaned; a full disk reads as one.
final class AtomicFileTests: XCTestCase {
    func testNothingUnderTheFinalNameBeforeCommit() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("greeting.flac")
        let file = try AtomicFile(path: path)
        let encoder = try ArchiveFormat.flac.makeEncoder(input: .init(sampleRate: 24_000), sink: file.sink)
        try encoder.encode(TestSignal.chirp(rate: 24_000, seconds: 1))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try encoder.finish()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let temporary = (file.temporaryPath as NSString).lastPathComponent
        XCTAssertEqual(scratch.contents(), [temporary])
        XCTAssertTrue(AtomicFile.isTemporaryName(temporary), temporary)
        try file.commit()
        XCTAssertEqual(scratch.contents(), ["greeting.flac"])
        try Tool.run("flac", ["-t", "-s", path])
    }

    func testAnAbandonedFileLeavesNothing() throws {
        let scratch = try ScratchDirectory()
        do {
            let file = try AtomicFile(path: scratch.file("abandoned.wav"))
            let encoder = try WAVEncoder(input: .init(sampleRate: 24_000), sink: file.sink)
            try encoder.encode([1, 2, 3])
        }
        XCTAssertEqual(scratch.contents(), [])
    }

    func testCommitReplacesAnExistingFile() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("same.wav")
        try writeBytes([1, 2, 3], to: path)
        try encodeFile(.wav, [5, 6], rate: 8_000, to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, 48)
    }

    func testStaleTemporariesAreRemovedAndNothingElse() throws {
        let scratch = try ScratchDirectory()
        let keep = ["notes.partial", ".hidden.partial", "a.flac", ".x.wav.abc12.partial", ".x.wav.abc1234.partial"]
        let stale = [".greeting.flac.Ab3xY9.partial", ".a.b.mp3.000000.partial"]
        for name in keep + stale { try writeBytes([0], to: scratch.file(name)) }
        let removed = AtomicFile.removeStalePartials(in: scratch.path)
        XCTAssertEqual(Set(removed), Set(stale.map(scratch.file)))
        XCTAssertEqual(scratch.contents(), keep.sorted())
        // A temporary younger than minimumAge belongs to a writer that may still be running.
        try writeBytes([0], to: scratch.file(stale[0]))
        XCTAssertEqual(AtomicFile.removeStalePartials(in: scratch.path, minimumAge: 3600), [])
        XCTAssertEqual(AtomicFile.removeStalePartials(in: scratch.path + "/missing"), [])
    }

    func testMissingDirectoryIsAClearError() {
        XCTAssertThrowsError(try AtomicFile(path: "/nonexistent-speakd/x.flac")) { error in
            let error = error as? EncoderError
            XCTAssertEqual(error?.kind, .io)
            XCTAssertEqual(error?.message.hasPrefix("creating a temporary file for /nonexistent-speakd/x.flac failed: "),
                           true, error?.message ?? "")
        }
    }

    /// A 64 KiB tmpfs fills up after ~1.3 s of 24 kHz WAV: the error says "disk full", names the final path, and
    /// neither a final file nor a temporary remains.
    func testDiskFullIsAClearErrorAndLeavesNoFile() throws {
        XCTAssertEqual(getuid(), 0, "this test mounts a tmpfs: run it as root")
        let scratch = try ScratchDirectory()
        let mountPoint = scratch.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try Tool.run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint])
        defer { _ = try? Tool.run("umount", [mountPoint]) }

        for format in ArchiveFormat.allCases {
            let path = mountPoint + "/full." + format.fileExtension
            var caught: EncoderError?
            do {
                // Uncompressible noise at a high bit rate, so every format overflows 64 KiB.
                try encodeFile(format, TestSignal.chirp(rate: 48_000, seconds: 10, noise: 0.4), rate: 48_000, to: path,
                               settings: EncoderSettings(mp3: MP3Settings(mode: .cbr(kbps: 320)),
                                                         opus: OpusSettings(bitrate: 256_000)))
            } catch let error as EncoderError {
                caught = error
            }
            XCTAssertEqual(caught?.kind, .diskFull, "\(format): \(String(describing: caught))")
            XCTAssertEqual(caught?.message, "disk full while writing \(path)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint), [], "\(format)")
        }
    }
}
