@testable import SpeechDispatcherModule
import XCTest

/// speakd's lines as the module reads them: leniently, so a newer daemon's states or members do not break the link.
final class DaemonMessageTests: XCTestCase {
    private func decode(_ line: String) -> DaemonMessage? { DaemonMessage.decode(Array(line.utf8)) }

    func testRepliesAndEvents() {
        XCTAssertEqual(decode(#"{"id":3,"ok":true,"job":"7","engine":"openai"}"#),
                       .reply(id: 3, ok: true, job: "7", cancelled: nil, error: nil))
        XCTAssertEqual(decode(#"{"id":4,"ok":true,"cancelled":1}"#), .reply(id: 4, ok: true, job: nil, cancelled: 1, error: nil))
        XCTAssertEqual(decode(#"{"id":5,"ok":false,"error":{"code":"invalid_field","field":"priority","message":"unknown field"}}"#),
                       .reply(id: 5, ok: false, job: nil, cancelled: nil, error: "invalid_field: unknown field"))
        XCTAssertEqual(decode(#"{"event":"job","job":"7","state":"expired","time":1.5,"reason":"ttl passed","future":[1]}"#),
                       .job(id: "7", state: "expired", reason: "ttl passed"))
        XCTAssertEqual(decode(#"{"event":"job","job":"7","state":"mark","mark":"0:5","time":1.5}"#),
                       .job(id: "7", state: "mark", reason: nil, mark: "0:5"))
        XCTAssertEqual(decode(#"{"event":"job","job":"7","state":"cancelled","reason":"ended at mark __spd_3","mark":"__spd_3"}"#),
                       .job(id: "7", state: "cancelled", reason: "ended at mark __spd_3", mark: "__spd_3"))
        XCTAssertEqual(decode(#"{"id":6,"ok":true,"mark":"__spd_3"}"#),
                       .reply(id: 6, ok: true, job: nil, cancelled: nil, error: nil, mark: "__spd_3"))
        XCTAssertEqual(decode(#"{"event":"hello","protocol":1,"server":"speakd 0.1.0","time":1}"#), .other)
    }

    func testGarbageIsIgnoredNotFatal() {
        XCTAssertNil(decode("not json"))
        XCTAssertNil(decode("[1,2]"))
        XCTAssertEqual(decode(#"{"event":"job","state":"started"}"#), .other, "an event without a job id concerns no job")
    }

    func testUnknownStatesDoNotEndAPiece() {
        var machine = ModuleStateMachine(configuration: ModuleConfiguration())
        let effects = machine.handle(.speak("<speak>Hi</speak>"), daemon: .connected(path: "s"))
        guard case .request(let id, "speak", _) = effects.first else { return XCTFail("\(effects)") }
        _ = machine.handle(.reply(id: id, ok: true, job: "1", cancelled: nil, error: nil))
        XCTAssertEqual(machine.handle(.job(id: "1", state: "paused", reason: nil)), [])
        XCTAssertEqual(machine.handle(.job(id: "1", state: "resumed", reason: nil)), [])
        XCTAssertTrue(machine.isSpeaking)
        XCTAssertEqual(machine.handle(.job(id: "1", state: "expired", reason: "late")).last, .write(["701 BEGIN", "702 END"]))
        XCTAssertEqual(machine.handle(.reply(id: 99, ok: true, job: nil, cancelled: nil, error: nil)), [], "a reply nobody waits for")
    }
}
