@testable import SpeechDispatcherModule
import XCTest

/// What punctuation modes, spelling and capitals make of text: a table per character class and mode.
final class VerbalizerTests: XCTestCase {
    private func say(_ text: String, _ level: SymbolTable.Level?, language: String = "en") -> String {
        Verbalizer(punctuation: level, table: .forLanguage(language)).text(text)
    }

    func testEachCharacterClassAtEachLevel() {
        // (text, none, some, most, all)
        let table: [(String, String, String, String, String)] = [
            // "some" symbols: spoken from some on, dropped below
            ("a@b", "a b", "a at b", "a at b", "a at b"),
            ("1+2=3", "1 2 3", "1 plus 2 equals 3", "1 plus 2 equals 3", "1 plus 2 equals 3"),
            ("50% off", "50 off", "50 percent off", "50 percent off", "50 percent off"),
            ("x.y", "x y", "x dot y", "x dot y", "x dot y"),
            // "most" symbols
            ("a_b", "a b", "a b", "a underscore b", "a underscore b"),
            ("\"q\"", "q", "q", "quote q quote", "quote q quote"),
            ("a [b]", "a b", "a b", "a left bracket b right bracket", "a left bracket b right bracket"),
            // kept when not spoken: brackets and dashes shape the reading
            ("f(x)", "f(x)", "f(x)", "f left paren(x right paren)", "f left paren(x right paren)"),
            ("a – b", "a – b", "a – b", "a en dash– b", "a en dash– b"),
            // phrase ends: kept, spoken from most
            ("Note: yes", "Note: yes", "Note: yes", "Note colon: yes", "Note colon: yes"),
            ("a; b", "a; b", "a; b", "a semicolon; b", "a semicolon; b"),
            // "all" symbols; sentence ends and commas are always kept
            ("Yes, no.", "Yes, no.", "Yes, no.", "Yes, no.", "Yes comma, no dot."),
            ("Why? Oh!", "Why? Oh!", "Why? Oh!", "Why? Oh!", "Why question mark? Oh exclamation mark!"),
            ("Wait...", "Wait...", "Wait...", "Wait...", "Wait dot dot dot..."),
            // meaning-carrying: currency and in-word apostrophes stay when not named
            ("$5", "$5", "$5", "$5", "dollar 5"),
            ("don't", "don't", "don't", "don't", "don apostrophe t"),
            // numbers: a decimal point is never named, a minus always is
            ("3.14", "3.14", "3.14", "3.14", "3.14"),
            ("-5 and x-y", "minus 5 and x y", "minus 5 and x y", "minus 5 and x dash y", "minus 5 and x dash y"),
            // runs: counted, not repeated
            ("a ---- b", "a b", "a b", "a 4 dash b", "a 4 dash b"),
            // letters, digits and unknown symbols pass
            ("héllo 42 ☺", "héllo 42 ☺", "héllo 42 ☺", "héllo 42 ☺", "héllo 42 ☺"),
        ]
        for (text, none, some, most, all) in table {
            XCTAssertEqual(say(text, SymbolTable.Level.none), none, "none: \(text)")
            XCTAssertEqual(say(text, .some), some, "some: \(text)")
            XCTAssertEqual(say(text, .most), most, "most: \(text)")
            XCTAssertEqual(say(text, .all), all, "all: \(text)")
        }
    }

    func testWithoutAModeTheTextPassesUnchanged() {
        XCTAssertEqual(say("a@b (c) --- d", nil), "a@b (c) --- d")
    }

    func testLanguagesNameTheirPunctuation() {
        XCTAssertEqual(say("a@b, c.", .all, language: "de-DE"), "a ät b Komma, c Punkt.")
        XCTAssertEqual(say("a@b, c.", .all, language: "fr"), "a arobase b virgule, c point.")
        XCTAssertEqual(say("a@b, c.", .all, language: "es_ES"), "a arroba b coma, c punto.")
        XCTAssertEqual(say("a@b", .some, language: "xx"), "a at b", "unknown languages speak English names")
        XCTAssertEqual(say("¿Qué?", .some, language: "es"), "abrir interrogación Qué?")
    }

    func testSpellingSaysEveryCharacter() {
        let plain = Verbalizer(spelling: true)
        XCTAssertEqual(plain.text("Ab 1."), "A b 1 dot")
        let capitals = Verbalizer(spelling: true, capitals: .spell)
        XCTAssertEqual(capitals.text("Ab-C"), "cap A b dash cap C")
        let icon = Verbalizer(spelling: true, capitals: .icon, capitalIcon: "up")
        XCTAssertEqual(icon.text("aB"), "a up B")
        let german = Verbalizer(spelling: true, capitals: .spell, table: .forLanguage("de"))
        XCTAssertEqual(german.text("Ä?"), "groß Ä Fragezeichen")
        XCTAssertEqual(Verbalizer(punctuation: SymbolTable.Level.none, spelling: true).text("a,b"), "a comma b",
                       "spelling names punctuation whatever the level")
    }

    func testSingleCharactersAndKeys() {
        let capitals = Verbalizer(capitals: .spell)
        XCTAssertEqual(SpokenNames.character("A", capitals), "cap A")
        XCTAssertEqual(SpokenNames.character("A"), "A", "capitals not announced")
        XCTAssertEqual(SpokenNames.character("A", Verbalizer(capitals: .icon)), "cap A", "icon without configured text: the word")
        XCTAssertEqual(SpokenNames.character(" "), "space")
        XCTAssertEqual(SpokenNames.character("space", Verbalizer(table: .forLanguage("fr"))), "espace")
        XCTAssertEqual(SpokenNames.character("."), "dot")
        XCTAssertEqual(SpokenNames.key("shift_a"), "shift a")
        XCTAssertEqual(SpokenNames.key("control_alt_delete"), "control alt delete")
        XCTAssertEqual(SpokenNames.key("kp-enter"), "keypad enter")
        XCTAssertEqual(SpokenNames.key("_", Verbalizer(table: .forLanguage("de"))), "Unterstrich")
    }

    func testCommonPhrasesCoverKeyEchoWithoutDuplicates() {
        let phrases = SpokenNames.commonPhrases(Verbalizer())
        XCTAssertEqual(Set(phrases).count, phrases.count)
        for phrase in ["a", "z", "0", "space", "dot", "question mark", "f1", "f24", "keypad 5", "page up", "escape"] {
            XCTAssertTrue(phrases.contains(phrase), phrase)
        }
        XCTAssertFalse(phrases.contains("cap A"))
        XCTAssertTrue(SpokenNames.commonPhrases(Verbalizer(capitals: .spell)).contains("cap A"))
    }
}
