import SpeakdProtocol
import XCTest
@testable import SpeakdDaemon

/// The SSIP rules as a table: what a new job does to the jobs already there.
final class PriorityRulesTests: XCTestCase {
    private func job(_ id: String, _ priority: JobPriority, audible: Bool = false, inRing: Bool = false,
                     requested: JobPriority? = nil, interrupt: Bool = false) -> PriorityRules.Existing {
        PriorityRules.Existing(id: id, priority: priority, requested: requested ?? priority, interrupt: interrupt,
                               audible: audible || false, inRing: inRing || audible)
    }

    private func verdicts(_ priority: JobPriority, interrupt: Bool = false, _ jobs: [PriorityRules.Existing]) -> [String: String] {
        PriorityRules.admit(priority: priority, interrupt: interrupt, among: jobs).verdicts.mapValues {
            switch $0 {
            case .cancel: "cancel"
            case .postpone: "postpone"
            }
        }
    }

    func testImportantCutsSpeechPostponesMessagesAndCancelsTransientJobs() {
        let jobs = [job("speaking", .message, audible: true), job("ahead", .text, inRing: true),
                    job("waiting", .message), job("note", .notification), job("other-important", .important, inRing: true)]
        XCTAssertEqual(verdicts(.important, jobs), ["speaking": "cancel", "ahead": "postpone", "note": "cancel"])
        XCTAssertEqual(verdicts(.important, [job("i", .important, audible: true)]), [:], "important is never interrupted")
    }

    func testMessageCancelsTextAndTransientJobsButNotMessages() {
        let jobs = [job("m", .message, audible: true), job("t", .text), job("n", .notification, inRing: true),
                    job("p", .progress), job("promoted", .message, requested: .progress)]
        XCTAssertEqual(verdicts(.message, jobs), ["t": "cancel", "n": "cancel", "p": "cancel"])
    }

    func testTextReplacesText() {
        XCTAssertEqual(verdicts(.text, [job("t1", .text, audible: true), job("t2", .text), job("m", .message)]),
                       ["t1": "cancel", "t2": "cancel"])
    }

    func testNotificationIsDroppedUnlessOnlyNotificationsArePending() {
        let dropped = PriorityRules.admit(priority: .notification, interrupt: false, among: [job("m", .message)])
        XCTAssertNotNil(dropped.dropReason)
        let replacing = PriorityRules.admit(priority: .notification, interrupt: false,
                                            among: [job("n", .notification, audible: true)])
        XCTAssertNil(replacing.dropReason)
        XCTAssertEqual(replacing.verdicts, ["n": .cancel(reason: "replaced by a newer notification")])
        XCTAssertNil(PriorityRules.admit(priority: .notification, interrupt: false, among: []).dropReason)
    }

    func testProgressWaitsAsAMessageAndReplacesTheWaitingReport() {
        let alone = PriorityRules.admit(priority: .progress, interrupt: false, among: [])
        XCTAssertEqual(alone.priority, .progress)
        let behind = PriorityRules.admit(priority: .progress, interrupt: false,
                                         among: [job("p1", .progress, audible: true), job("p2", .message, requested: .progress)])
        XCTAssertEqual(behind.priority, .message)
        XCTAssertEqual(behind.verdicts, ["p2": .cancel(reason: "superseded by a newer progress report")])
        // Written ahead into the ring but not heard yet: still only waiting, so still superseded.
        let written = PriorityRules.admit(priority: .progress, interrupt: false,
                                          among: [job("p1", .progress, audible: true),
                                                  job("p2", .message, inRing: true, requested: .progress)])
        XCTAssertEqual(written.verdicts, ["p2": .cancel(reason: "superseded by a newer progress report")])
    }

    func testInterruptCutsWhatIsSpeakingUnlessImportant() {
        XCTAssertEqual(verdicts(.message, interrupt: true, [job("m", .message, audible: true), job("n", .message, inRing: true)]),
                       ["m": "cancel", "n": "postpone"])
        XCTAssertEqual(verdicts(.message, interrupt: true, [job("i", .important, audible: true)]), [:])
    }

    func testRanks() {
        XCTAssertLessThan(PriorityRules.rank(of: .important, interrupt: false), PriorityRules.rank(of: .message, interrupt: true))
        XCTAssertLessThan(PriorityRules.rank(of: .text, interrupt: true), PriorityRules.rank(of: .message, interrupt: false))
        XCTAssertEqual(PriorityRules.rank(of: .text, interrupt: false), PriorityRules.rank(of: .message, interrupt: false))
        XCTAssertLessThan(PriorityRules.rank(of: .message, interrupt: false), PriorityRules.rank(of: .notification, interrupt: false))
    }
}
