import Foundation
@testable import SpeakdSnapcast
import SpeakdTestSupport
import XCTest

/// SnapcastGroupSwitcher against a real snapserver 0.26 with two real snapclients on loopback (`room1` and
/// `room2#2`, each in a group of its own, both on `music` at first).
final class GroupSwitcherTests: XCTestCase {
    private var fixture: SnapserverFixture!
    private let both = ["room1": "music", "room2#2": "music"]

    override func setUpWithError() throws {
        fixture = try SnapserverFixture()
        try fixture.startServer()
        try fixture.startClient(1)
        try fixture.startClient(2)
        try fixture.waitForClients(["room1", "room2#2"])
        XCTAssertEqual(try fixture.streams(), both, "a new client joins the first stream")
    }

    override func tearDown() {
        fixture?.tearDown()
        fixture = nil
    }

    private func switcher(groups: [String]? = nil, stateFile: String? = nil, log: LogLines = LogLines(),
                          timing: SnapcastGroupSwitcher.Timing = .init(readTimeout: 5)) throws -> SnapcastGroupSwitcher {
        try SnapcastGroupSwitcher(server: fixture.control, stream: "announce", groups: groups, stateFile: stateFile,
                                  timing: timing, log: log.sink)
    }

    private func settle(_ switcher: SnapcastGroupSwitcher, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(switcher.waitUntilIdle(timeoutSeconds: 20), "the switcher did not finish its requests", file: file, line: line)
    }

    func testEveryGroupSwitchesToTheAnnouncementAndBack() throws {
        let switcher = try switcher()
        switcher.announcementStarts()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"])
        XCTAssertNil(switcher.lastError)
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), both)
        XCTAssertNil(switcher.lastError)
    }

    func testOverlappingAnnouncementsRestoreOnlyAtTheLastEnd() throws {
        let switcher = try switcher()
        switcher.announcementStarts()
        switcher.announcementStarts()
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"], "one announcement still speaks")
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), both)
        // An unmatched end changes nothing and says so.
        let log = LogLines()
        let other = try self.switcher(log: log)
        other.announcementEnds()
        settle(other)
        XCTAssertEqual(try fixture.streams(), both)
        XCTAssertTrue(log.all.contains { $0.contains("without announcementStarts") }, "\(log.all)")
    }

    func testOnlyTheChosenGroupSwitches() throws {
        // "room2" is the host id of the client snapserver calls "room2#2".
        let switcher = try switcher(groups: ["room2", "nobody"])
        switcher.announcementStarts()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), ["room1": "music", "room2#2": "announce"])
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), both)

        // By group id as well.
        let room1 = try fixture.group(of: "room1")
        let byID = try self.switcher(groups: [room1.id])
        byID.announcementStarts()
        settle(byID)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "music"])
        byID.announcementEnds()
        settle(byID)
        XCTAssertEqual(try fixture.streams(), both)
    }

    func testAGroupSwitchedElsewhereMeanwhileIsLeftAlone() throws {
        let log = LogLines()
        let switcher = try switcher(log: log)
        switcher.announcementStarts()
        settle(switcher)
        let room1 = try fixture.group(of: "room1")
        try SnapcastRPCClient(server: fixture.control).setStream(group: room1.id, to: "radio")
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), ["room1": "radio", "room2#2": "music"])
        XCTAssertTrue(log.all.contains { $0.contains(room1.id) && $0.contains("left alone") }, "\(log.all)")
    }

    func testARestartedSwitcherRestoresWhatTheStateFileSays() throws {
        let stateFile = fixture.directory + "/switched.json"
        var crashed: SnapcastGroupSwitcher? = try switcher(stateFile: stateFile)
        crashed!.announcementStarts()
        settle(crashed!)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"])
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any]
        XCTAssertEqual((saved?["restore"] as? [String: String])?.values.sorted(), ["music", "music"])
        crashed = nil                                          // speakd died: no announcementEnds

        let log = LogLines()
        let restarted = try switcher(stateFile: stateFile, log: log)
        restarted.restoreLeftovers()
        settle(restarted)
        XCTAssertEqual(try fixture.streams(), both)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateFile))
        XCTAssertNil(restarted.lastError)
        XCTAssertTrue(log.all.contains { $0.contains("earlier run") }, "\(log.all)")
    }

    func testAStartAfterACrashKeepsTheStreamsToRestore() throws {
        // The crashed run's groups are still on the announcement when the next one starts speaking: its end must
        // give back the music, not the announcement they were found on.
        let stateFile = fixture.directory + "/switched.json"
        var crashed: SnapcastGroupSwitcher? = try switcher(stateFile: stateFile)
        crashed!.announcementStarts()
        settle(crashed!)
        crashed = nil
        let restarted = try switcher(stateFile: stateFile)
        restarted.announcementStarts()                         // before (or without) restoreLeftovers
        settle(restarted)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateFile))
        restarted.announcementEnds()
        settle(restarted)
        XCTAssertEqual(try fixture.streams(), both)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateFile))
    }

    func testAnUnreachableServerIsReportedWithoutHanging() throws {
        let port = fixture.controlPort
        fixture.tearDown()                                     // nothing listens on the port any more
        let log = LogLines()
        let switcher = try SnapcastGroupSwitcher(server: HostAndPort("127.0.0.1:\(port)")!, stream: "announce",
                                                 groups: nil, stateFile: nil, log: log.sink)
        let started = Date()
        switcher.announcementStarts()
        switcher.announcementEnds()
        XCTAssertTrue(switcher.waitUntilIdle(timeoutSeconds: 5))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        let error = try XCTUnwrap(switcher.lastError)
        XCTAssertTrue(error.contains("refused"), error)
        XCTAssertTrue(log.all.contains { $0.contains("refused") }, "\(log.all)")
    }

    func testARestoreThatFailedIsKeptAndRetriedWhenTheServerIsBack() throws {
        let stateFile = fixture.directory + "/switched.json"
        let switcher = try switcher(stateFile: stateFile, timing: .init(retryInterval: 0.5, readTimeout: 5))
        switcher.announcementStarts()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"])
        fixture.stopServer()
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertNotNil(switcher.lastError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateFile), "the streams to restore are kept")

        try fixture.startServer()                              // it saved its groups (on announce) and reloads them
        let restored = try fixture.poll("the retry to restore the music") { () throws -> Bool? in
            try fixture.groups().allSatisfy { $0.streamID == "music" } ? true : nil
        }
        XCTAssertTrue(restored)
        XCTAssertTrue(try fixture.poll("the state file to go") {
            FileManager.default.fileExists(atPath: stateFile) ? nil : true
        })
        settle(switcher)
        XCTAssertNil(switcher.lastError)
    }

    func testTheGiveBackWaitsForTheRestoreDelayAndAStartWithinItKeepsTheGroups() throws {
        let log = LogLines()
        let switcher = try switcher(log: log, timing: .init(restoreDelay: 2, readTimeout: 5))
        let announcing = ["room1": "announce", "room2#2": "announce"]
        switcher.announcementStarts()
        switcher.announcementEnds()
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), announcing, "within the delay the clients still play the speech's end")
        switcher.announcementStarts()                          // the next announcement comes within the delay
        settle(switcher)
        XCTAssertEqual(try fixture.streams(), announcing)
        let ended = Date()
        switcher.announcementEnds()
        let restored = try fixture.poll("the delayed give-back") { () throws -> Date? in
            try fixture.streams() == both ? Date() : nil
        }
        XCTAssertGreaterThanOrEqual(restored.timeIntervalSince(ended), 2)
        XCTAssertEqual(log.all.filter { $0.contains("switched from music to announce") }.count, 2,
                       "each group switched once, never back and forth: \(log.all)")
        XCTAssertEqual(log.all.filter { $0.contains("back on music") }.count, 2, "\(log.all)")
    }

    func testDroppingTheSwitcherGivesBackAWaitingRestoreAtOnce() throws {
        var switcher: SnapcastGroupSwitcher? = try switcher(timing: .init(restoreDelay: 60, readTimeout: 5))
        switcher!.announcementStarts()
        switcher!.announcementEnds()
        settle(switcher!)
        XCTAssertEqual(try fixture.streams(), ["room1": "announce", "room2#2": "announce"])
        switcher = nil
        XCTAssertTrue(try fixture.poll("the give-back at close", seconds: 10) { try fixture.streams() == both ? true : nil })
    }
}
