import ArgumentParser
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
            return .stop(socket: stop.connection.socket)
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
        ]
        for arguments in accepted {
            let quick = try XCTUnwrap(QuickInvocation(arguments: arguments), "\(arguments) should take the quick path")
            XCTAssertEqual(quick, try viaArgumentParser(arguments), "\(arguments)")
        }
    }

    func testEverythingElseIsLeftToArgumentParser() {
        let deferred: [[String]] = [
            ["--help"], ["-h"], ["--version"], ["help"], ["status"], ["say", "stop"],
            ["--speed", "fast", "hi"], ["--speed"], ["--voice"], ["--bogus", "hi"], ["hi", "--wait"],
            ["--", "-5 degrees"], ["stop", "now"], ["stop", "--wait"], ["--wait=yes", "hi"], ["-vx", "hi"],
            ["--voice", "--wait", "text"],
            ["pause"], ["resume"], ["skip"], ["list"], ["watch"], ["cancel", "3"], ["--interrupt=yes", "hi"],
            ["--ttl", "soon", "hi"], ["cache"], ["cache", "stats"], ["cache", "warm", "phrases.txt"],
            ["--no-cache=yes", "hi"],
        ]
        for arguments in deferred {
            XCTAssertNil(QuickInvocation(arguments: arguments), "\(arguments) must go through ArgumentParser")
        }
    }

    /// Every subcommand's name is known to the quick parser, so `speakctl NAME` never speaks the word NAME.
    func testEverySubcommandNameIsReserved() {
        for command in Speakctl.configuration.subcommands {
            let name = command.configuration.commandName ?? command._commandName
            XCTAssertTrue(QuickInvocation.commandNames.contains(name), "\(name) is missing from QuickInvocation.commandNames")
        }
    }
}
