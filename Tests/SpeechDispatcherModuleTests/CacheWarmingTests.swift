import SpeakdProtocol
@testable import SpeechDispatcherModule
import XCTest

/// When the machine asks for key echo's phrases to be warmed, and with what.
final class CacheWarmingTests: XCTestCase {
    private let connected = ModuleStateMachine.Daemon.connected(path: "/tmp/speakd.sock")

    private func warms(_ effects: [ModuleStateMachine.Effect]) -> [[String: JSONValue]] {
        effects.compactMap { if case .warmCache(let fields) = $0 { fields } else { nil } }
    }

    func testThePhraseCacheIsWarmedOncePerVoiceSettingUsedForKeyEcho() throws {
        var machine = ModuleStateMachine(configuration: ModuleConfiguration())
        XCTAssertEqual(warms(machine.handle(.initialize, daemon: connected)), [], "settings not known yet")
        let first = warms(machine.handle(.set([SettingLine("voice", "male1")]), daemon: connected))
        XCTAssertEqual(first.count, 1, "the first SET after INIT")
        XCTAssertEqual(first.first?["voice"], .string("onyx"))
        guard case .array(let list) = try XCTUnwrap(first.first?["phrases"]) else { return XCTFail("\(first)") }
        for phrase in ["a", "z", "0", "9", "question mark", "space", "f12", "keypad enter", "page down"] {
            XCTAssertTrue(list.contains(.string(phrase)), phrase)
        }
        XCTAssertEqual(first[0]["action"], .string("warm"))
        XCTAssertEqual(first[0]["speed"], .number(1.0))
        XCTAssertEqual(warms(machine.handle(.char("a"), daemon: connected) + machine.handle(.key("b"), daemon: connected)), [],
                       "same settings: already warm")
        _ = machine.handle(.set([SettingLine("rate", "50"), SettingLine("synthesis_voice", "nova")]), daemon: connected)
        XCTAssertEqual(warms(machine.handle(.speak("<speak>text</speak>"), daemon: connected)), [], "only key echo asks for a warm")
        let second = warms(machine.handle(.char("a"), daemon: connected))
        XCTAssertEqual(second.count, 1)
        XCTAssertEqual(second.first?["speed"], .number(2.0))
        XCTAssertEqual(second.first?["voice"], .string("nova"))
    }

    func testAtMostEightWarmingsPerSessionAndNoneWhenOff() {
        var machine = ModuleStateMachine(configuration: ModuleConfiguration())
        var count = 0
        for rate in stride(from: -100, through: 100, by: 10) {
            _ = machine.handle(.set([SettingLine("rate", String(rate))]), daemon: connected)
            count += warms(machine.handle(.char("a"), daemon: connected)).count
        }
        XCTAssertEqual(count, 8)
        var quiet = ModuleConfiguration()
        quiet.warmPhraseCache = false
        var silent = ModuleStateMachine(configuration: quiet)
        XCTAssertEqual(warms(silent.handle(.initialize, daemon: connected) + silent.handle(.set([]), daemon: connected)
                             + silent.handle(.char("a"), daemon: connected)), [])
    }

    func testTheConfigurationFileSwitchesWarmingAndTheCapitalIcon() {
        var warnings: [String] = []
        let configuration = ModuleConfiguration(parsing: "SpeakdWarmCache \"off\"\nSpeakdCapitalIcon \"up\"\nSpeakdWarmCache maybe\n",
                                                warnings: &warnings)
        XCTAssertFalse(configuration.warmPhraseCache)
        XCTAssertEqual(configuration.capitalIcon, "up")
        XCTAssertEqual(warnings, ["line 3: SpeakdWarmCache takes on or off, not \"maybe\""])
    }
}
