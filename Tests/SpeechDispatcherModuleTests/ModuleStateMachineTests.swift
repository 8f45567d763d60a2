import SpeakdProtocol
@testable import SpeechDispatcherModule
import XCTest

/// The machine alone: commands and daemon messages in, the exact stdout transcript and requests out.
final class ModuleStateMachineTests: XCTestCase {
    private var machine = ModuleStateMachine(configuration: ModuleConfiguration())
    private var transcript: [String] = []
    private var requests: [(id: Int, op: String, fields: [String: JSONValue])] = []
    private var exitCode: Int32?
    private let connected = ModuleStateMachine.Daemon.connected(path: "/tmp/speakd.sock")

    private func run(_ effects: [ModuleStateMachine.Effect]) {
        for effect in effects {
            switch effect {
            case .write(let lines): transcript += lines
            case let .request(id, op, fields): requests.append((id, op, fields))
            case .exit(let code): exitCode = code
            case .warmCache: break
            case .log, .debugLog: break
            }
        }
    }

    private func send(_ command: ModuleCommand) { run(machine.handle(command, daemon: connected)) }
    private func daemon(_ message: DaemonMessage) { run(machine.handle(message)) }
    private func event(_ job: String, _ state: String, mark: String? = nil) {
        daemon(.job(id: job, state: state, reason: nil, mark: mark))
    }
    private func reached(_ job: String, _ mark: String) { event(job, "mark", mark: mark) }
    private func marks(_ pairs: (String, Int)...) -> JSONValue {
        .array(pairs.map { .object(["name": .string($0.0), "at": .number(Double($0.1))]) })
    }
    /// Answers every unanswered speak request with jobs "1", "2", … in order.
    private func acceptSpeaks(from first: Int = 1) {
        var job = first
        for request in requests where request.op == "speak" {
            daemon(.reply(id: request.id, ok: true, job: String(job), cancelled: nil, error: nil))
            job += 1
        }
    }
    private func takeTranscript() -> [String] { defer { transcript = [] }; return transcript }

    func testInitReportsTheSocketOrFailsWith399() {
        send(.initialize)
        XCTAssertEqual(takeTranscript(), ["299-sd_speakd: speaking through speakd at /tmp/speakd.sock", "299 OK LOADED SUCCESSFULLY"])
        var fresh = ModuleStateMachine(configuration: ModuleConfiguration())
        let effects = fresh.handle(.initialize, daemon: .unreachable(reason: "speakd is not running: no socket at /x"))
        XCTAssertEqual(effects.first, .write(["399-sd_speakd cannot reach speakd: speakd is not running: no socket at /x",
                                              "399 ERR CANT INIT MODULE"]))
        XCTAssertEqual(effects.last, .exit(1))
    }

    func testAudioServerIsRefusedAndTheSecondBlockAccepted() {
        send(.audio([SettingLine("audio_output_method", "server")]))
        XCTAssertEqual(takeTranscript(), ["300-sd_speakd plays through speakd's own audio path, not the server's", "300 MODULE ERROR"])
        send(.audio([SettingLine("audio_output_method", "pulse"), SettingLine("audio_pulse_device", "default")]))
        XCTAssertEqual(takeTranscript(), ["203 OK AUDIO INITIALIZED"])
    }

    func testSimpleRepliesForEveryOtherCommand() {
        send(.logLevel([SettingLine("log_level", "5")]))
        send(.set([SettingLine("rate", "10")]))
        send(.set([SettingLine("rate", "x")]))
        send(.debug("ON"))
        send(.unknown("FOO"))
        send(.refused(reply: "305 DATA MORE THAN ONE LINE"))
        XCTAssertEqual(takeTranscript(), ["203 OK LOGLEVEL SET", "203 OK SETTINGS RECEIVED", "303 ERROR INVALID PARAMETER OR VALUE",
                                          "302 ERROR BAD SYNTAX", "300 ERR UNKNOWN COMMAND", "305 DATA MORE THAN ONE LINE"])
        XCTAssertEqual(machine.logLevel, 5)
        send(.listVoices)
        let voices = takeTranscript()
        XCTAssertEqual(voices.count, 12)
        XCTAssertEqual(voices.first, "200-alloy\ten\tnone")
        XCTAssertEqual(voices.last, "200 OK VOICE LIST SENT")
        send(.quit)
        XCTAssertEqual(takeTranscript(), ["210 OK QUIT"])
        XCTAssertEqual(exitCode, 0)
    }

    func testOneJobPerMessageWithItsMarksReportedAsHeard() {
        send(.set([SettingLine("rate", "50"), SettingLine("volume", "-50"), SettingLine("voice", "female1")]))
        _ = takeTranscript()
        send(.speak("<speak><mark name=\"m0\"/>One.<mark name=\"__spd_0\"/> Two.<mark name=\"last\"/></speak>"))
        // One job for the whole message, requested before the reply; nothing but the reply is written yet.
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING"])
        XCTAssertEqual(requests.map(\.op), ["speak"])
        XCTAssertEqual(requests[0].fields, ["input": .string("One. Two."), "speed": .number(2.0), "volume": .number(0.5),
                                            "priority": .string("message"), "voice": .string("nova"),
                                            "media_role": .string("accessibility"),
                                            "marks": marks(("m0", 0), ("__spd_0", 5), ("last", 9))])
        acceptSpeaks()
        event("1", "queued")
        XCTAssertEqual(takeTranscript(), [])
        event("1", "started")
        XCTAssertEqual(takeTranscript(), ["701 BEGIN"])
        reached("1", "m0")
        XCTAssertEqual(takeTranscript(), ["700-m0", "700 INDEX MARK"])
        reached("1", "__spd_0")
        XCTAssertEqual(takeTranscript(), ["700-__spd_0", "700 INDEX MARK"])
        reached("1", "last")
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["700-last", "700 INDEX MARK", "702 END"])
        XCTAssertFalse(machine.isSpeaking)
    }

    func testOrcaStyleSentenceIsOneJobWithAMarkBeforeEveryWord() {
        send(.speak("<speak><mark name=\"0:3\"/>The <mark name=\"4:9\"/>quick <mark name=\"10:15\"/>fox.</speak>"))
        XCTAssertEqual(requests.count, 1)
        XCTAssertEqual(requests[0].fields["input"], .string("The quick fox."))
        XCTAssertEqual(requests[0].fields["marks"], marks(("0:3", 0), ("4:9", 4), ("10:15", 10)))
    }

    func testMarksTheDaemonSkippedAreReportedInOrderAndTheRestBeforeEnd() {
        send(.speak("<speak><mark name=\"a\"/>One <mark name=\"b\"/>two <mark name=\"c\"/>three<mark name=\"d\"/></speak>"))
        acceptSpeaks()
        reached("1", "b")   // a mark before `started` (never sent by the daemon) still comes after BEGIN
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-a", "700 INDEX MARK", "700-b", "700 INDEX MARK"])
        event("1", "started")
        reached("1", "a")   // already reported: nothing twice
        XCTAssertEqual(takeTranscript(), [])
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["700-c", "700 INDEX MARK", "700-d", "700 INDEX MARK", "702 END"])
    }

    func testEventsBeforeTheSpeakReplyAreKept() {
        send(.speak("<speak><mark name=\"x\"/>Hello</speak>"))
        _ = takeTranscript()
        event("9", "queued")
        event("9", "started")
        reached("9", "x")
        XCTAssertEqual(takeTranscript(), [])
        daemon(.reply(id: requests[0].id, ok: true, job: "9", cancelled: nil, error: nil))
        XCTAssertEqual(takeTranscript(), ["701 BEGIN", "700-x", "700 INDEX MARK"])
        event("9", "finished")
        XCTAssertEqual(takeTranscript(), ["702 END"])
    }

    func testStopCancelsTheJobAndReports703AfterTheCut() {
        send(.speak("<speak>One.<mark name=\"a\"/> Two.<mark name=\"b\"/> Three.</speak>"))
        acceptSpeaks()
        event("1", "started")
        _ = takeTranscript()
        requests = []
        send(.stop)
        XCTAssertEqual(requests.map(\.op), ["cancel"], "its own job only, never the daemon-wide stop")
        XCTAssertEqual(requests[0].fields, ["job": .string("1")])
        reached("1", "a")   // raced the cancel: no marks after STOP
        event("1", "cancelled")
        XCTAssertEqual(takeTranscript(), [], "703 only once the cancel is confirmed")
        daemon(.reply(id: requests[0].id, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(takeTranscript(), ["703 STOP"])
        XCTAssertFalse(machine.isSpeaking)
    }

    func testStopBeforeTheSpeakReplyCancelsWhenTheJobIsKnown() {
        send(.speak("<speak>Hello</speak>"))
        _ = takeTranscript()
        send(.stop)
        XCTAssertEqual(requests.map(\.op), ["speak"])
        daemon(.reply(id: requests[0].id, ok: true, job: "4", cancelled: nil, error: nil))
        XCTAssertEqual(requests.map(\.op), ["speak", "cancel"])
        daemon(.reply(id: requests[1].id, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(takeTranscript(), ["701 BEGIN", "703 STOP"], "every end event follows a BEGIN")
    }

    func testPauseEndsTheJobAtTheNextSpeechDispatcherMark() {
        send(.speak("<speak>One.<mark name=\"word\"/> Two.<mark name=\"__spd_1\"/> Three.<mark name=\"__spd_2\"/> Four.</speak>"))
        acceptSpeaks()
        event("1", "started")
        _ = takeTranscript()
        requests = []
        send(.pause)
        XCTAssertEqual(requests.map(\.op), ["end_at_mark"])
        XCTAssertEqual(requests[0].fields, ["job": .string("1"), "prefix": .string("__spd_")])
        daemon(.reply(id: requests[0].id, ok: true, job: nil, cancelled: nil, error: nil, mark: "__spd_1"))
        reached("1", "word")
        XCTAssertEqual(takeTranscript(), ["700-word", "700 INDEX MARK"])
        reached("1", "__spd_1")
        daemon(.job(id: "1", state: "cancelled", reason: "ended at mark __spd_1", mark: "__spd_1"))
        XCTAssertEqual(takeTranscript(), ["700-__spd_1", "700 INDEX MARK", "704 PAUSE"])
        XCTAssertFalse(machine.isSpeaking)
    }

    func testPauseReportsTheMarkEvenIfItsMarkEventWasMissed() {
        send(.speak("<speak>One.<mark name=\"__spd_0\"/> Two.</speak>"))
        acceptSpeaks()
        event("1", "started")
        send(.pause)
        daemon(.job(id: "1", state: "cancelled", reason: "ended at mark __spd_0", mark: "__spd_0"))
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-__spd_0", "700 INDEX MARK", "704 PAUSE"])
    }

    func testPauseBeforeTheSpeakReplyIsSentWhenTheJobIsKnown() {
        send(.speak("<speak>One.<mark name=\"__spd_0\"/> Two.</speak>"))
        send(.pause)
        XCTAssertEqual(requests.map(\.op), ["speak"])
        acceptSpeaks()
        XCTAssertEqual(requests.map(\.op), ["speak", "end_at_mark"])
    }

    func testPauseWithNoMarkAheadPlaysToTheEnd() {
        send(.speak("<speak>Only one sentence.</speak>"))
        acceptSpeaks()
        event("1", "started")
        send(.pause)
        XCTAssertEqual(requests.map(\.op), ["speak"], "no __spd_ mark: nothing to ask")
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testPauseWhenTheDaemonFindsNoMarkLeftPlaysToTheEnd() {
        send(.speak("<speak>One.<mark name=\"__spd_0\"/> Two.</speak>"))
        acceptSpeaks()
        event("1", "started")
        send(.pause)
        daemon(.reply(id: requests[1].id, ok: true, job: nil, cancelled: nil, error: nil, mark: nil))
        reached("1", "__spd_0")
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-__spd_0", "700 INDEX MARK", "702 END"])
    }

    func testStopWhilePausingReports703() {
        send(.speak("<speak>One.<mark name=\"__spd_0\"/> Two.</speak>"))
        acceptSpeaks()
        event("1", "started")
        send(.pause)
        send(.stop)
        XCTAssertEqual(requests.map(\.op), ["speak", "end_at_mark", "cancel"])
        daemon(.reply(id: requests[1].id, ok: true, job: nil, cancelled: nil, error: nil, mark: "__spd_0"))
        event("1", "cancelled")
        daemon(.reply(id: requests[2].id, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "703 STOP"])
    }

    func testFailedOrRefusedJobsEndWithAllMarks() {
        send(.speak("<speak>One.<mark name=\"a\"/> Two.</speak>"))
        daemon(.reply(id: requests[0].id, ok: false, job: nil, cancelled: nil, error: "upstream_unavailable: down"))
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-a", "700 INDEX MARK", "702 END"])
        send(.speak("<speak>One.<mark name=\"b\"/> Two.<mark name=\"c\"/></speak>"))
        daemon(.reply(id: requests[1].id, ok: true, job: "2", cancelled: nil, error: nil))
        event("2", "started")
        reached("2", "b")
        event("2", "failed")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-b", "700 INDEX MARK", "700-c", "700 INDEX MARK", "702 END"])
    }

    func testEmptyMessageEndsAtOnceAfterTheReply() {
        send(.speak("<speak><mark name=\"x\"/></speak>"))
        XCTAssertEqual(requests.count, 0)
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-x", "700 INDEX MARK", "702 END"])
    }

    func testOverlongMarkNamesAreNotSentButStillReportedInOrder() {
        let long = String(repeating: "m", count: 300)
        send(.speak("<speak>One <mark name=\"\(long)\"/>two <mark name=\"b\"/>three</speak>"))
        XCTAssertEqual(requests[0].fields["marks"], marks(("b", 8)))
        acceptSpeaks()
        event("1", "started")
        reached("1", "b")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-\(long)", "700 INDEX MARK", "700-b", "700 INDEX MARK"])
    }

    func testCharAndKeySpeakTheirNames() {
        send(.char("?"))
        acceptSpeaks()
        XCTAssertEqual(requests[0].fields["input"], .string("question mark"))
        XCTAssertNil(requests[0].fields["marks"])
        var fresh = ModuleStateMachine(configuration: ModuleConfiguration())
        let effects = fresh.handle(.key("shift_a"), daemon: connected)
        guard case .request(_, "speak", let fields) = effects.first else { return XCTFail("\(effects)") }
        XCTAssertEqual(fields["input"], .string("shift a"))
    }

    func testStopAndPauseWhileIdleAnswerNothing() {
        send(.stop)
        send(.pause)
        XCTAssertEqual(transcript, [])
        XCTAssertEqual(requests.count, 0)
    }

    func testSpeakWithoutDaemonAnswers301() {
        let effects = machine.handle(.speak("<speak>Hi</speak>"), daemon: .unreachable(reason: "gone"))
        XCTAssertEqual(effects.last, .write(["301 ERROR CANT SPEAK"]))
        XCTAssertFalse(machine.isSpeaking)
    }

    func testLosingTheDaemonEndsTheMessage() {
        send(.speak("<speak>One.</speak>"))
        acceptSpeaks()
        event("1", "started")
        run(machine.connectionLost())
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testPunctuationSpellingAndCapitalsChangeTheInputAndTheMarkOffsets() {
        send(.set([SettingLine("punctuation_mode", "all")]))
        send(.speak("<speak><mark name=\"a\"/>Hi, you.<mark name=\"__spd_0\"/> Why?</speak>"))
        XCTAssertEqual(requests[0].fields["input"], .string("Hi comma, you dot. Why question mark?"))
        XCTAssertEqual(requests[0].fields["marks"], marks(("a", 0), ("__spd_0", 19)))
        send(.set([SettingLine("punctuation_mode", "none"), SettingLine("spelling_mode", "on"), SettingLine("cap_let_recogn", "spell")]))
        send(.speak("<speak>Ab-c</speak>"))
        XCTAssertEqual(requests[1].fields["input"], .string("cap A b dash c"))
        send(.set([SettingLine("spelling_mode", "off"), SettingLine("language", "de")]))
        send(.speak("<speak>B</speak>"))
        XCTAssertEqual(requests[2].fields["input"], .string("groß B"), "one character is said as CHAR says it")
        send(.char("?"))
        XCTAssertEqual(requests[3].fields["input"], .string("Fragezeichen"))
        send(.speak("<speak>I <mark name=\"m\"/>see.</speak>"))
        XCTAssertEqual(requests[4].fields["input"], .string("I see."), "a one-letter word is not a single character")
    }

    func testADaemonWithoutMarksGetsTheMessageWithoutThemAndTheMarksAtTheEnd() {
        send(.speak("<speak>One <mark name=\"a\"/>two.</speak>"))
        daemon(.reply(id: requests[0].id, ok: false, job: nil, cancelled: nil,
                      error: "invalid_field: unknown field \"marks\" for this op"))
        XCTAssertEqual(requests.map(\.op), ["speak", "speak"])
        XCTAssertNil(requests[1].fields["marks"])
        XCTAssertEqual(requests[1].fields["input"], .string("One two."))
        daemon(.reply(id: requests[1].id, ok: true, job: "1", cancelled: nil, error: nil))
        event("1", "started")
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-a", "700 INDEX MARK", "702 END"])
        send(.speak("<speak>Three <mark name=\"b\"/>four.</speak>"))
        XCTAssertNil(requests[2].fields["marks"], "remembered for the connection")
    }
}
