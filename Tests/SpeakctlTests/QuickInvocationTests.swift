import ArgumentParser
import SpeakdProtocol
import XCTest
@testable import speakctl

/// The quick parser must accept only what ArgumentParser accepts, with the same meaning, and defer the rest.
final class QuickInvocationTests: XCTestCase {
    private func viaArgumentParser(_ arguments: [String]) throws -> QuickInvocation? {
        let command = try Speakctl.parseAsRoot(arguments)
        switch command {
        case let say as Say:
            return .speak(SpeakInvocation(text: say.text, voice: say.voice, model: say.model, speed: say.speed,
                                          instructions: say.instructions, upstream: say.upstream,
                                          priority: say.priority, interrupt: say.interrupt, volume: say.volume,
                                          ttl: say.ttl, wait: say.wait, follow: say.follow,
                                          verbose: say.verbose,
                                          socket: say.connection.socket, cache: !say.noCache))
        case let stop as Stop:
            return .request(op: "stop", socket: stop.connection.socket)
        case let skip as Skip:
            return .request(op: "skip", socket: skip.connection.socket)
        case let pause as Pause:
            return .request(op: "pause", socket: pause.connection.socket)
        case let resume as Resume:
            return .request(op: "resume", socket: resume.connection.socket)
        case let cancel as Cancel:
            return .cancel(job: cancel.job, socket: cancel.connection.socket)
        default:
            return nil
        }
    }

    func testAcceptedInvocationsMeanWhatArgumentParserSays() throws {
        let accepted: [[String]] = [
            [],
            ["hello"],
            ["Hello", "there,", "world."],
            ["--wait", "Done."],
            ["-v", "--wait", "--voice", "nova", "--model=tts-1-hd", "--speed", "1.5", "hi"],
            ["--instructions", "calm and slow", "--socket", "/tmp/x.sock"],
            ["--upstream", "kokoro", "--wait", "Front door."],
            ["--speed=0.25", "--verbose", "slow"],
            ["--priority", "important", "--ttl", "60", "--volume=0.5", "Doorbell."],
            ["--interrupt", "--priority=text", "Now."],
            ["--follow", "--voice", "nova"],
            ["--no-cache", "--wait", "Link."],
            ["stop"],
            ["stop", "--socket", "/run/speakd/speakd.sock"],
            ["stop", "--socket=/tmp/x.sock"],
            ["pause"], ["resume"], ["skip", "--socket", "/tmp/x.sock"],
            ["cancel", "3"], ["cancel", "--socket", "/tmp/x.sock", "12"], ["cancel", "12", "--socket=/tmp/x.sock"],
        ]
        for arguments in accepted {
            let quick = try XCTUnwrap(QuickInvocation(arguments: arguments), "\(arguments) should take the quick path")
            XCTAssertEqual(quick, try viaArgumentParser(arguments), "\(arguments)")
        }
    }

    func testEverythingElseIsLeftToArgumentParser() {
        let deferred: [[String]] = [
            ["help"], ["status"], ["say", "stop"], ["--version", "hi"], ["--help", "stop"], ["stop", "--help"],
            ["cancel"], ["cancel", "1", "2"], ["cancel", "--", "-1"], ["pause", "--socket"], ["resume", "now"],
            ["stop", "--socket", "/a", "--socket", "/b"], ["skip", "-v"],
            ["--speed", "fast", "hi"], ["--speed"], ["--voice"], ["--bogus", "hi"], ["hi", "--wait"],
            ["--", "-5 degrees"], ["stop", "now"], ["stop", "--wait"], ["--wait=yes", "hi"], ["-vx", "hi"],
            ["--voice", "--wait", "text"],
            ["list"], ["watch"], ["--interrupt=yes", "hi"],
            ["--ttl", "soon", "hi"], ["cache"], ["cache", "stats"], ["cache", "warm", "phrases.txt"],
            ["--no-cache=yes", "hi"],
        ]
        for arguments in deferred {
            XCTAssertNil(QuickInvocation(arguments: arguments), "\(arguments) must go through ArgumentParser")
        }
    }

    /// `--version` and `--help` print what ArgumentParser prints, without it.
    func testVersionAndHelpAreArgumentParsers() throws {
        XCTAssertEqual(QuickInvocation(arguments: ["--version"]), .version)
        XCTAssertEqual(Speakctl.configuration.version, speakdVersion)
        setenv("COLUMNS", "80", 1)
        defer { unsetenv("COLUMNS") }
        XCTAssertEqual(QuickInvocation(arguments: ["--help"]), .help)
        XCTAssertEqual(QuickInvocation(arguments: ["-h"]), .help)
        let expected = Speakctl.helpMessage(columns: 80) + "\n"
        XCTAssertEqual(SpeakctlHelp.text, expected,
                       "SpeakctlHelp.text is out of date; paste this between its quotes:\n\(expected)")
        setenv("COLUMNS", "60", 1)
        XCTAssertNil(QuickInvocation(arguments: ["--help"]), "a narrower terminal gets ArgumentParser's own wrapping")
    }

    /// Every subcommand's name is known to the quick parser, so `speakctl NAME` never speaks the word NAME.
    func testEverySubcommandNameIsReserved() {
        for command in Speakctl.configuration.subcommands {
            let name = command.configuration.commandName ?? command._commandName
            XCTAssertTrue(QuickInvocation.commandNames.contains(name), "\(name) is missing from QuickInvocation.commandNames")
        }
    }
}
