import Foundation
@testable import SpeakdSnapcast
import SpeakdTestSupport
import XCTest

/// SnapcastRPCClient against a real snapserver 0.26 (one snapclient, so there is a group), and against a socket
/// that accepts and never answers.
final class SnapcastRPCClientTests: XCTestCase {
    private var fixture: SnapserverFixture!

    override func setUpWithError() throws {
        fixture = try SnapserverFixture()
        try fixture.startServer()
        try fixture.startClient(1)
        try fixture.waitForClients(["room1"])
    }

    override func tearDown() {
        fixture?.tearDown()
        fixture = nil
    }

    func testNotificationsOnAKeptConnectionAreSkipped() throws {
        let watcher = SnapcastRPCClient(server: fixture.control)
        let group = try XCTUnwrap(watcher.groups().first { $0.clients.contains { $0.id == "room1" } })
        XCTAssertEqual(group.streamID, "music")
        // Another connection switches the group: snapserver tells the watcher with a Group.OnStreamChanged
        // notification, which waits in front of the watcher's next answer.
        try SnapcastRPCClient(server: fixture.control).setStream(group: group.id, to: "radio")
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try watcher.groups().first { $0.id == group.id }?.streamID, "radio")
        XCTAssertEqual(try watcher.groups().first { $0.id == group.id }?.streamID, "radio")
    }

    func testErrorObjectsAreReportedAsRefusals() throws {
        let rpc = SnapcastRPCClient(server: fixture.control)
        let group = try XCTUnwrap(rpc.groups().first)
        XCTAssertThrowsError(try rpc.setStream(group: group.id, to: "nosuch")) { error in
            let refusal = error as? SnapcastRPCError
            XCTAssertEqual(refusal?.refusedByServer, true)
            XCTAssertTrue("\(error)".contains("Stream not found"), "\(error)")
        }
        XCTAssertThrowsError(try rpc.setStream(group: "nogroup", to: "music")) { error in
            XCTAssertTrue("\(error)".contains("Group not found"), "\(error)")
        }
        XCTAssertThrowsError(try rpc.call("No.Such.Method")) { error in
            XCTAssertTrue("\(error)".contains("Method not found"), "\(error)")
        }
        XCTAssertEqual(try rpc.groups().count, 1, "the client works on after refusals")
    }

    func testASilentServerTimesOut() throws {
        // A listening socket nobody accepts on: the kernel completes the connection, no answer ever comes.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
                    && listen(descriptor, 4) == 0
            }
        }
        XCTAssertTrue(listening)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let rpc = SnapcastRPCClient(server: HostAndPort("127.0.0.1:\(port)")!, connectTimeout: 1, readTimeout: 0.5)
        let started = Date()
        XCTAssertThrowsError(try rpc.groups()) { error in
            XCTAssertTrue("\(error)".contains("no answer"), "\(error)")
            XCTAssertEqual((error as? SnapcastRPCError)?.refusedByServer, false)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }
}
