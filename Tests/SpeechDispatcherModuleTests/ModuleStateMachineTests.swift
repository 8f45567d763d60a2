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
            case .log, .debugLog: break
            }
        }
    }

    private func send(_ command: ModuleCommand) { run(machine.handle(command, daemon: connected)) }
    private func daemon(_ message: DaemonMessage) { run(machine.handle(message)) }
    private func event(_ job: String, _ state: String) { daemon(.job(id: job, state: state, reason: nil)) }
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

    func testSpeakWithMarksReportsBeginMarksInOrderAndEnd() {
        send(.set([SettingLine("rate", "50"), SettingLine("volume", "-50"), SettingLine("voice", "female1")]))
        _ = takeTranscript()
        send(.speak("<speak><mark name=\"m0\"/>One.<mark name=\"__spd_0\"/> Two.<mark name=\"last\"/></speak>"))
        // Both pieces are requested before the reply, and nothing but the reply is written yet.
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING"])
        XCTAssertEqual(requests.map(\.op), ["speak", "speak"])
        XCTAssertEqual(requests[0].fields, ["input": .string("One."), "speed": .number(2.0), "volume": .number(0.5),
                                            "priority": .string("message"), "voice": .string("nova")])
        XCTAssertEqual(requests[1].fields["input"], .string("Two."))
        acceptSpeaks()
        event("1", "queued")
        event("2", "queued")
        XCTAssertEqual(takeTranscript(), [])
        event("1", "started")
        XCTAssertEqual(takeTranscript(), ["701 BEGIN", "700-m0", "700 INDEX MARK"])
        event("1", "finished")
        event("2", "started")
        XCTAssertEqual(takeTranscript(), ["700-__spd_0", "700 INDEX MARK"])
        event("2", "finished")
        XCTAssertEqual(takeTranscript(), ["700-last", "700 INDEX MARK", "702 END"])
        XCTAssertFalse(machine.isSpeaking)
    }

    func testEventsBeforeTheSpeakReplyAreKept() {
        send(.speak("<speak>Hello</speak>"))
        _ = takeTranscript()
        event("9", "queued")
        event("9", "started")
        XCTAssertEqual(takeTranscript(), [])
        daemon(.reply(id: requests[0].id, ok: true, job: "9", cancelled: nil, error: nil))
        XCTAssertEqual(takeTranscript(), ["701 BEGIN"])
        event("9", "finished")
        XCTAssertEqual(takeTranscript(), ["702 END"])
    }

    func testStopCancelsOwnJobsAndReports703AfterTheCut() {
        send(.speak("<speak>One.<mark name=\"a\"/> Two.<mark name=\"b\"/> Three.</speak>"))
        acceptSpeaks()
        event("1", "started")
        _ = takeTranscript()
        requests = []
        send(.stop)
        XCTAssertEqual(requests.map(\.op), ["cancel", "cancel", "cancel"], "own jobs only, never the daemon-wide stop")
        XCTAssertEqual(requests.map(\.fields), [["job": .string("1")], ["job": .string("2")], ["job": .string("3")]])
        event("1", "cancelled")
        event("2", "cancelled")
        daemon(.reply(id: requests[0].id, ok: true, job: nil, cancelled: 1, error: nil))
        daemon(.reply(id: requests[1].id, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(takeTranscript(), [], "703 only once every cancel is confirmed")
        event("3", "started")   // raced the cancel: no marks after STOP
        daemon(.reply(id: requests[2].id, ok: true, job: nil, cancelled: 1, error: nil))
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

    func testPauseStopsAtTheNextSpeechDispatcherMark() {
        send(.speak("<speak>One.<mark name=\"word\"/> Two.<mark name=\"__spd_1\"/> Three.<mark name=\"__spd_2\"/> Four.</speak>"))
        acceptSpeaks()
        event("1", "started")
        _ = takeTranscript()
        requests = []
        send(.pause)
        XCTAssertEqual(requests.map(\.fields), [["job": .string("3")], ["job": .string("4")]], "the pieces after __spd_1")
        event("1", "finished")
        event("2", "started")
        XCTAssertEqual(takeTranscript(), ["700-word", "700 INDEX MARK"])
        event("3", "cancelled")
        event("4", "cancelled")
        daemon(.reply(id: requests[0].id, ok: true, job: nil, cancelled: 1, error: nil))
        daemon(.reply(id: requests[1].id, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(takeTranscript(), [], "the current piece plays to its end")
        event("2", "finished")
        XCTAssertEqual(takeTranscript(), ["700-__spd_1", "700 INDEX MARK", "704 PAUSE"])
    }

    func testPauseWithNoMarkAheadPlaysToTheEnd() {
        send(.speak("<speak>Only one sentence.</speak>"))
        acceptSpeaks()
        event("1", "started")
        send(.pause)
        event("1", "finished")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "702 END"])
    }

    func testFailedPiecesDoNotHangTheMessage() {
        send(.speak("<speak>One.<mark name=\"a\"/> Two.</speak>"))
        daemon(.reply(id: requests[0].id, ok: false, job: nil, cancelled: nil, error: "upstream_unavailable: down"))
        daemon(.reply(id: requests[1].id, ok: true, job: "2", cancelled: nil, error: nil))
        event("2", "failed")
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-a", "700 INDEX MARK", "702 END"])
    }

    func testEmptyMessageEndsAtOnceAfterTheReply() {
        send(.speak("<speak><mark name=\"x\"/></speak>"))
        XCTAssertEqual(requests.count, 0)
        XCTAssertEqual(takeTranscript(), ["200 OK SPEAKING", "701 BEGIN", "700-x", "700 INDEX MARK", "702 END"])
    }

    func testCharAndKeySpeakTheirNames() {
        send(.char("?"))
        acceptSpeaks()
        XCTAssertEqual(requests[0].fields["input"], .string("question mark"))
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
}
