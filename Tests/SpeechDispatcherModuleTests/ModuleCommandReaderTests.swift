import SpeechDispatcherModule
import XCTest

final class ModuleCommandReaderTests: XCTestCase {
    private func feed(_ lines: [String]) -> [ModuleCommandReader.Output] {
        var reader = ModuleCommandReader()
        return lines.compactMap { reader.feed($0) }
    }

    func testSingleLineCommands() {
        XCTAssertEqual(feed(["INIT", "LIST VOICES", "STOP", "PAUSE", "QUIT"]),
                       [.command(.initialize), .command(.listVoices), .command(.stop), .command(.pause), .command(.quit)])
    }

    func testBlocksAreAcknowledgedAtOnceAndCompleteAtTheDot() {
        var reader = ModuleCommandReader()
        XCTAssertEqual(reader.feed("SET"), .acknowledge("203 OK RECEIVING SETTINGS"))
        XCTAssertNil(reader.feed("rate=20"))
        XCTAssertNil(reader.feed("voice=female1"))
        XCTAssertNil(reader.feed("synthesis_voice=NULL"))
        XCTAssertEqual(reader.feed("."), .command(.set([SettingLine("rate", "20"), SettingLine("voice", "female1"),
                                                         SettingLine("synthesis_voice", "NULL")])))
        XCTAssertEqual(reader.feed("AUDIO"), .acknowledge("207 OK RECEIVING AUDIO SETTINGS"))
        XCTAssertNil(reader.feed("audio_output_method=server"))
        XCTAssertEqual(reader.feed("."), .command(.audio([SettingLine("audio_output_method", "server")])))
        XCTAssertEqual(reader.feed("LOGLEVEL"), .acknowledge("207 OK RECEIVING LOGLEVEL SETTINGS"))
        XCTAssertNil(reader.feed("log_level=5"))
        XCTAssertEqual(reader.feed("."), .command(.logLevel([SettingLine("log_level", "5")])))
    }

    func testSpeakBodyKeepsLinesAndRemovesDotStuffing() {
        XCTAssertEqual(feed(["SPEAK", "<speak>First line", "..and a line that began with a dot", "...", "end</speak>", "."]),
                       [.acknowledge("202 OK RECEIVING MESSAGE"),
                        .command(.speak("<speak>First line\n.and a line that began with a dot\n..\nend</speak>"))])
    }

    func testACommandWordInsideABodyIsText() {
        XCTAssertEqual(feed(["SPEAK", "STOP", "QUIT", "."]),
                       [.acknowledge("202 OK RECEIVING MESSAGE"), .command(.speak("STOP\nQUIT"))])
    }

    func testCharKeyAndSoundIcon() {
        XCTAssertEqual(feed(["CHAR", "a", ".", "KEY", "shift_a", ".", "SOUND_ICON", "message", "."]),
                       [.acknowledge("202 OK RECEIVING MESSAGE"), .command(.char("a")),
                        .acknowledge("202 OK RECEIVING MESSAGE"), .command(.key("shift_a")),
                        .acknowledge("202 OK RECEIVING MESSAGE"), .command(.soundIcon("message"))])
        // A dot character arrives dot-stuffed.
        XCTAssertEqual(feed(["CHAR", "..", "."]).last, .command(.char(".")))
    }

    func testMultiLineCharIsRefused() {
        XCTAssertEqual(feed(["CHAR", "a", "b", "."]).last, .command(.refused(reply: "305 DATA MORE THAN ONE LINE")))
    }

    func testSettingLineWithoutEqualsIsBadSyntax() {
        XCTAssertEqual(feed(["SET", "rate 20", "."]).last, .command(.refused(reply: "302 ERROR BAD SYNTAX")))
    }

    func testCarriageReturnsAndUnknownCommandsAndDebug() {
        XCTAssertEqual(feed(["INIT\r", "HELLO", "DEBUG ON /tmp/x.log", "DEBUG OFF"]),
                       [.command(.initialize), .command(.unknown("HELLO")), .command(.debug("ON /tmp/x.log")),
                        .command(.debug("OFF"))])
    }
}
