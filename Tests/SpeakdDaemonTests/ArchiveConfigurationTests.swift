import SpeakdEncoding
import XCTest
@testable import SpeakdDaemon

/// `[archive]` in the file, its flags and variables, and the file names it makes.
final class ArchiveConfigurationTests: XCTestCase {
    func testFileFlagsAndEnvironment() throws {
        let file = try ConfigurationFile(path: "/x.toml", text: """
            [archive]
            directory = "/tmp"
            format = "flac"
            name_pattern = "{job}"
            mp3_bitrate = 64
            opus_bitrate = 24000
            flac_compression = 8
            """)
        var resolved = try SettingsResolver.resolve(flags: CommandLineSettings(), environment: [:], file: file)
        XCTAssertEqual(resolved.options.archive.directory, "/tmp")
        XCTAssertEqual(resolved.options.archive.format, .flac)
        XCTAssertEqual(resolved.options.archive.namePattern, "{job}")
        XCTAssertEqual(resolved.options.archive.settings.mp3.mode, .cbr(kbps: 64))
        XCTAssertEqual(resolved.options.archive.settings.opus.bitrate, 24000)
        XCTAssertEqual(resolved.options.archive.settings.flac.compressionLevel, 8)
        XCTAssertTrue(resolved.describe().contains("format = \"flac\""))

        resolved = try SettingsResolver.resolve(flags: CommandLineSettings(), environment: ["SPEAKD_ARCHIVE_FORMAT": "mp3", "SPEAKD_ARCHIVE_DIR": "/"], file: file)
        XCTAssertEqual(resolved.options.archive.format, .mp3)
        XCTAssertEqual(resolved.options.archive.directory, "/")
        XCTAssertEqual(resolved.sources["archive.format"], "environment SPEAKD_ARCHIVE_FORMAT")

        var flags = CommandLineSettings()
        flags.archiveFormat = .wav
        resolved = try SettingsResolver.resolve(flags: flags, environment: ["SPEAKD_ARCHIVE_FORMAT": "mp3"], file: file)
        XCTAssertEqual(resolved.options.archive.format, .wav)

        XCTAssertNil(try SettingsResolver.resolve(flags: CommandLineSettings(), environment: [:], file: nil).options.archive.directory)
    }

    func testInvalidArchiveSettingsNameTheLine() {
        for (text, reason) in [("[archive]\nformat = \"aac\"", "format"), ("[archive]\nmp3_quality = 4\nmp3_bitrate = 64", "both"),
                               ("[archive]\nname_pattern = \"a/b\"", "name_pattern"), ("[archive]\nspeed = 1", "unknown key")] {
            XCTAssertThrowsError(try ConfigurationFile(path: "/x.toml", text: text)) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
            }
        }
        var flags = CommandLineSettings()
        flags.archiveDirectory = "/nonexistent-archive-dir"
        XCTAssertThrowsError(try SettingsResolver.resolve(flags: flags, environment: [:], file: nil))
    }

    func testFileNames() {
        XCTAssertEqual(ArchiveFileName.slug("The front door is open."), "the-front-door-is-open")
        XCTAssertEqual(ArchiveFileName.slug("Élan: 2 go!"), "lan-2-go")
        XCTAssertEqual(ArchiveFileName.slug("日本語"), "speech")
        XCTAssertEqual(ArchiveFileName.slug("one two three four five six seven"), "one-two-three-four-five-six")
        XCTAssertLessThanOrEqual(ArchiveFileName.slug(String(repeating: "abcdefghij ", count: 10)).count, 40)
        let name = ArchiveFileName.expand("{date}-{time}-{job}-{slug}", job: "7", text: "Hi there", time: 0, fileExtension: "opus")
        XCTAssertTrue(name.hasSuffix("-7-hi-there.opus"), name)
        XCTAssertEqual(name.count, "1970-01-01-000000-7-hi-there.opus".count)
        XCTAssertEqual(ArchiveFileName.expand("{job}", job: "3", text: "x", time: 0, fileExtension: "wav"), "3.wav")
    }
}
