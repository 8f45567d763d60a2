import Foundation
import SpeechDispatcherModule
import XCTest

/// The whole module (runner, stdin parsing, the link's reader thread, serialized stdout) against a fake speakd on a
/// real Unix socket, checking the exact transcript speech-dispatcher would read and how fast it comes.
final class ModuleAgainstFakeSpeakdTests: XCTestCase {
    private var directory: URL!
    private var fake: FakeSpeakd!
    private var module: ModuleHarness!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sd-speakd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        fake = try FakeSpeakd(path: directory.appendingPathComponent("speakd.sock").path)
    }

    override func tearDownWithError() throws {
        module?.send("QUIT")
        _ = module?.waitForExit()
        fake = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// INIT and the start-up blocks exactly as speech-dispatcher 0.11 sends them.
    private func startModule() {
        module = ModuleHarness(socketPath: fake.path)
        module.send("INIT")
        XCTAssertEqual(module.read(until: "299 OK LOADED SUCCESSFULLY").lines,
                       ["299-sd_speakd: speaking through speakd at \(fake.path)", "299 OK LOADED SUCCESSFULLY"])
        module.send("AUDIO", "audio_output_method=server", ".")
        XCTAssertEqual(module.read(until: "300 MODULE ERROR").lines,
                       ["207 OK RECEIVING AUDIO SETTINGS", "300-sd_speakd plays through speakd's own audio path, not the server's", "300 MODULE ERROR"])
        module.send("AUDIO", "audio_output_method=pulse", "audio_pulse_device=default", ".")
        XCTAssertEqual(module.read(until: "203 OK AUDIO INITIALIZED").lines, ["207 OK RECEIVING AUDIO SETTINGS", "203 OK AUDIO INITIALIZED"])
        module.send("LOGLEVEL", "log_level=3", ".")
        XCTAssertEqual(module.read(until: "203 OK LOGLEVEL SET").lines, ["207 OK RECEIVING LOGLEVEL SETTINGS", "203 OK LOGLEVEL SET"])
        module.send("LIST VOICES")
        let voices = module.read(until: "200 OK VOICE LIST SENT").lines
        XCTAssertEqual(voices.count, 12)
        XCTAssertEqual(voices[6], "200-nova\ten\tnone")
    }

    func testSpeakWithMarksTranscript() throws {
        fake.pieceDuration = 0.03
        startModule()
        module.send("SET", "rate=50", "volume=0", "voice=male1", "synthesis_voice=NULL", "language=en", ".")
        XCTAssertEqual(module.read(until: "203 OK SETTINGS RECEIVED").lines, ["203 OK RECEIVING SETTINGS", "203 OK SETTINGS RECEIVED"])
        let sent = module.send("SPEAK", "<speak><mark name=\"0:5\"/>Hello <mark name=\"6:11\"/>world.<mark name=\"__spd_0\"/>",
                               "..Next line &amp; more.<mark name=\"end\"/></speak>", ".")
        let (lines, _) = module.read(until: "702 END")
        XCTAssertEqual(lines, ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN",
                               "700-0:5", "700 INDEX MARK", "700-6:11", "700 INDEX MARK", "700-__spd_0", "700 INDEX MARK",
                               "700-end", "700 INDEX MARK", "702 END"])
        let speaks = fake.requests.filter { $0.op == "speak" }
        XCTAssertEqual(speaks.map { $0.object["input"] as? String }, ["Hello world. .Next line & more."], "one job per message")
        let first = try XCTUnwrap(speaks.first?.object)
        let marks = try XCTUnwrap(first["marks"] as? [[String: Any]])
        XCTAssertEqual(marks.map { $0["name"] as? String }, ["0:5", "6:11", "__spd_0", "end"])
        XCTAssertEqual(marks.map { $0["at"] as? Int }, [0, 6, 13, 31])
        XCTAssertEqual(first["voice"] as? String, "onyx")
        XCTAssertEqual(first["speed"] as? Double, 2.0)
        XCTAssertEqual(first["volume"] as? Double, 1.0)
        XCTAssertEqual(first["priority"] as? String, "message")
        XCTAssertEqual(first["v"] as? Int, 1)
        let latency = Double(try XCTUnwrap(speaks.first).nanoseconds - sent) / 1e6
        print("measured: SPEAK on stdin → first speak request at the socket: \(String(format: "%.3f", latency)) ms")
        XCTAssertLessThan(latency, 50)
        XCTAssertEqual(module.drain(for: 0.1), [], "nothing after END")
    }

    func testStopCancelsOwnJobsAndReports703WhenCut() throws {
        fake.pieceDuration = 5
        startModule()
        module.send("SPEAK", "<speak>A long sentence.<mark name=\"__spd_0\"/> Another long one.</speak>", ".")
        module.read(until: "701 BEGIN")
        let stopSent = module.send("STOP")
        let (lines, stopped) = module.read(until: "703 STOP", timeout: 2)
        XCTAssertEqual(lines, ["703 STOP"])
        let ops = fake.requests.map(\.op)
        XCTAssertEqual(ops, ["speak", "cancel"], "the module cancels its own job, never the daemon-wide stop")
        let latency = Double(stopped - stopSent) / 1e6
        print("measured: STOP on stdin → 703 STOP on stdout (fake cuts in \(fake.cutDelay * 1000) ms): \(String(format: "%.3f", latency)) ms")
        XCTAssertLessThan(latency, 100)

        // The next message plays normally.
        fake.pieceDuration = 0.02
        module.send("SPEAK", "<speak>Again.</speak>", ".")
        XCTAssertEqual(module.read(until: "702 END").lines, ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testPauseEndsTheJobAtTheNextSentenceMarkAnd704ThenResumeSpeaksTheRest() throws {
        fake.pieceDuration = 0.6
        startModule()
        module.send("SPEAK", "<speak><mark name=\"w0\"/>First. <mark name=\"w1\"/>More.<mark name=\"__spd_0\"/> Second.<mark name=\"__spd_1\"/> Third.</speak>", ".")
        module.read(until: "701 BEGIN")
        let paused = module.send("PAUSE")
        let (lines, reported) = module.read(until: "704 PAUSE")
        XCTAssertEqual(lines, ["700-w0", "700 INDEX MARK", "700-w1", "700 INDEX MARK", "700-__spd_0", "700 INDEX MARK", "704 PAUSE"])
        let requests = fake.requests
        XCTAssertEqual(requests.map(\.op), ["speak", "end_at_mark"])
        XCTAssertEqual(requests[1].object["prefix"] as? String, "__spd_")
        // "First. More." is 12 of the input's 33 characters: the job ends about 0.22 s in, not at its end (0.6 s).
        XCTAssertLessThan(Double(reported - paused) / 1e9, 0.45)
        // speech-dispatcher resumes by sending the text after the reported mark as a new SPEAK.
        fake.pieceDuration = 0.02
        module.send("SPEAK", "<speak> Second.<mark name=\"__spd_1\"/> Third.</speak>", ".")
        XCTAssertEqual(module.read(until: "702 END").lines,
                       ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN", "700-__spd_1", "700 INDEX MARK", "702 END"])
        XCTAssertEqual(fake.requests.filter { $0.op == "speak" }.last?.object["input"] as? String, "Second. Third.")
    }

    func testPunctuationSpellingAndCapitalsReachTheDaemonAsWords() throws {
        fake.pieceDuration = 0.02
        startModule()
        let cases: [(settings: [String], body: String, said: String)] = [
            (["punctuation_mode=some"], "<speak>Mail a@b.com, now.</speak>", "Mail a at b dot com, now."),
            (["punctuation_mode=most"], "<speak>(x) - y; z</speak>", "left paren(x right paren) dash y semicolon; z"),
            (["punctuation_mode=none", "spelling_mode=on", "cap_let_recogn=spell"], "<speak>Hi!</speak>", "cap H i exclamation mark"),
            (["spelling_mode=off", "language=fr"], "<speak>E</speak>", "majuscule E"),
        ]
        for (settings, body, said) in cases {
            module.send(["SET"] + settings + ["."])
            module.read(until: "203 OK SETTINGS RECEIVED")
            module.send("SPEAK", body, ".")
            module.read(until: "702 END")
            XCTAssertEqual(fake.requests.filter { $0.op == "speak" }.last?.object["input"] as? String, said, body)
        }
    }

    func testKeyEchoPhrasesAreWarmedOnASecondConnection() throws {
        startModule()
        XCTAssertTrue(fake.cacheRequests.isEmpty, "nothing before the settings are known")
        module.send("SET", "rate=0", "voice=male1", "language=en", ".")
        module.read(until: "203 OK SETTINGS RECEIVED")
        let deadline = Date().addingTimeInterval(5)
        while fake.cacheRequests.isEmpty && Date() < deadline { usleep(10_000) }
        let warm = try XCTUnwrap(fake.cacheRequests.first?.object)
        XCTAssertEqual(warm["action"] as? String, "warm")
        let phrases = try XCTUnwrap(warm["phrases"] as? [String])
        XCTAssertTrue(phrases.contains("a") && phrases.contains("7") && phrases.contains("question mark") && phrases.contains("escape"))
        // The module's own link is not held up by the warm: a CHAR is spoken at once.
        module.send("CHAR", "x", ".")
        XCTAssertEqual(module.read(until: "702 END").lines, ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testBeginComesWhenTheFirstSampleIsHeard() throws {
        fake.startDelay = 0
        fake.pieceDuration = 0.02
        startModule()
        let sent = module.send("CHAR", "a", ".")
        let (lines, begun) = module.read(until: "701 BEGIN")
        XCTAssertEqual(lines, ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN"])
        print("measured: CHAR on stdin → 701 BEGIN (fake starts at once): \(String(format: "%.3f", Double(begun - sent) / 1e6)) ms")
        XCTAssertEqual(module.read(until: "702 END").lines, ["702 END"])
        module.send("KEY", "shift_a", ".")
        module.read(until: "702 END")
        XCTAssertEqual(fake.requests.filter { $0.op == "speak" }.map { $0.object["input"] as? String }, ["a", "shift a"])
    }

    func testDaemonGoingAwayEndsTheMessageAndTheModuleReconnects() throws {
        fake.pieceDuration = 5
        startModule()
        module.send("SPEAK", "<speak>Cut off.</speak>", ".")
        module.read(until: "701 BEGIN")
        fake.disconnect()
        XCTAssertEqual(module.read(until: "702 END").lines, ["702 END"])
        fake.pieceDuration = 0.02
        module.send("SPEAK", "<speak>Back.</speak>", ".")
        XCTAssertEqual(module.read(until: "702 END").lines, ["202 OK RECEIVING MESSAGE", "200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testInitFailsClearlyWhenSpeakdIsNotRunning() throws {
        let missing = directory.appendingPathComponent("absent.sock").path
        let lonely = ModuleHarness(socketPath: missing)
        lonely.send("INIT")
        let lines = lonely.read(until: "399 ERR CANT INIT MODULE").lines
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("399-sd_speakd cannot reach speakd: speakd is not running: no socket at \(missing)"), lines[0])
        XCTAssertTrue(lines[0].hasSuffix("or set SpeakdSocket in the module's speakd.conf"), lines[0])
        XCTAssertEqual(lonely.waitForExit(), 1)
    }
}
