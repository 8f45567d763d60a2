@testable import SpeechDispatcherModule
import XCTest

final class SettingsTests: XCTestCase {
    func testRateCurveDoublesEveryFiftySteps() {
        let expected: [(Int, Double)] = [(-100, 0.25), (-50, 0.5), (0, 1.0), (25, 2.0.squareRoot()), (50, 2.0), (100, 4.0), (150, 4.0), (-150, 0.25)]
        for (rate, speed) in expected {
            XCTAssertEqual(SettingsMapping.speed(forRate: rate), speed, accuracy: 1e-9, "rate \(rate)")
        }
        // Monotonic over the whole scale.
        for rate in -100..<100 { XCTAssertLessThan(SettingsMapping.speed(forRate: rate), SettingsMapping.speed(forRate: rate + 1)) }
    }

    func testVolumeIsALinearGain() {
        XCTAssertEqual(SettingsMapping.gain(forVolume: -100), 0.0)
        XCTAssertEqual(SettingsMapping.gain(forVolume: -50), 0.5)
        XCTAssertEqual(SettingsMapping.gain(forVolume: 0), 1.0)
        XCTAssertEqual(SettingsMapping.gain(forVolume: 100), 2.0)
    }

    func testSetBlocksPersistAndInvalidValuesChangeNothing() {
        var settings = SpeechSettings()
        XCTAssertTrue(settings.apply([SettingLine("rate", "40"), SettingLine("voice", "FEMALE1"), SettingLine("language", "de"),
                                      SettingLine("synthesis_voice", "NULL"), SettingLine("future_key", "x")]))
        XCTAssertTrue(settings.apply([SettingLine("volume", "-20")]))
        XCTAssertEqual(settings.rate, 40)
        XCTAssertEqual(settings.volume, -20)
        XCTAssertEqual(settings.voiceType, "female1")
        XCTAssertEqual(settings.language, "de")
        XCTAssertNil(settings.synthesisVoice)
        let before = settings
        XCTAssertFalse(settings.apply([SettingLine("pitch", "10"), SettingLine("rate", "101")]))
        XCTAssertFalse(settings.apply([SettingLine("volume", "loud")]))
        XCTAssertEqual(settings, before)
    }

    func testVoiceResolution() {
        var warnings: [String] = []
        let configuration = ModuleConfiguration(parsing: """
            # speakd.conf
            SpeakdSocket "/run/user/1000/speakd.sock"
            SpeakdUpstream kokoro
            SpeakdPriority "important"
            SpeakdVoice "af_heart" "en-US" "none"
            SpeakdVoice "ff_siwis" "fr"
            AddVoice "fr" "female1" "ff_siwis"
            AddVoice "en" "female1" "af_heart"
            Nonsense 1
            """, warnings: &warnings)
        XCTAssertEqual(warnings, ["line 9: unknown setting \"Nonsense\" ignored"])
        XCTAssertEqual(configuration.socketPath, "/run/user/1000/speakd.sock")
        XCTAssertEqual(configuration.upstream, "kokoro")
        XCTAssertEqual(configuration.priority, "important")
        XCTAssertEqual(configuration.voices, [.init("af_heart", language: "en-US"), .init("ff_siwis", language: "fr")])
        XCTAssertEqual(configuration.voice(forType: "female1", language: "fr"), "ff_siwis")
        XCTAssertEqual(configuration.voice(forType: "female1", language: "en-GB"), "af_heart")
        XCTAssertEqual(configuration.voice(forType: "male1", language: "fr"), "onyx")   // the default mapping remains

        var machine = ModuleStateMachine(configuration: configuration)
        _ = machine.handle(.set([SettingLine("voice", "female1"), SettingLine("language", "fr")]), daemon: .connected(path: "s"))
        XCTAssertEqual(machine.resolvedVoice, "ff_siwis")
        _ = machine.handle(.set([SettingLine("synthesis_voice", "af_heart")]), daemon: .connected(path: "s"))
        XCTAssertEqual(machine.resolvedVoice, "af_heart")
    }

    func testDefaultVoicesAreOpenAIsEleven() {
        XCTAssertEqual(ModuleConfiguration().voices.map(\.name),
                       ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"])
    }

    func testSpokenNames() {
        XCTAssertEqual(SpokenNames.character("a"), "a")
        XCTAssertEqual(SpokenNames.character("."), "dot")
        XCTAssertEqual(SpokenNames.character(" "), "space")
        XCTAssertEqual(SpokenNames.character("space"), "space")
        XCTAssertEqual(SpokenNames.character("é"), "é")
        XCTAssertEqual(SpokenNames.key("shift_a"), "shift a")
        XCTAssertEqual(SpokenNames.key("space"), "space")
        XCTAssertEqual(SpokenNames.key("control_alt_delete"), "control alt delete")
        XCTAssertEqual(SpokenNames.key("underscore"), "underscore")
        XCTAssertEqual(SpokenNames.key("_"), "underscore")
        XCTAssertEqual(SpokenNames.key("shift__"), "shift underscore")
        XCTAssertEqual(SpokenNames.key("double-quote"), "double quote")
        XCTAssertEqual(SpokenNames.key("kp-enter"), "keypad enter")
        XCTAssertEqual(SpokenNames.key("kp-5"), "keypad 5")
        XCTAssertEqual(SpokenNames.key("prior"), "page up")
        XCTAssertEqual(SpokenNames.key("shift_f10"), "shift f10")
        XCTAssertEqual(SpokenNames.key("control_."), "control dot")
    }
}
