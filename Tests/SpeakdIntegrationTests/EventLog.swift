import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Every job event of a daemon, recorded by a subscribed connection on a background thread, so tests can assert
/// the sequence per job and wait (with deadlines, never for ever) for a state.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Event] = []
    private var failure: String?
    private let thread: Thread

    init(daemon: DaemonProcess) throws {
        let connection = try daemon.connect()
        _ = try connection.request("subscribe")
        let box = ConnectionBox(connection)
        let sink = Sink()
        thread = Thread {
            while true {
                do {
                    let event = try box.connection.nextEvent()
                    sink.owner?.append(event)
                } catch {
                    sink.owner?.fail("\(error)")
                    return
                }
            }
        }
        sink.owner = self
        thread.start()
    }

    /// Lets the reader thread reach the log without keeping it alive.
    private final class Sink: @unchecked Sendable {
        weak var owner: EventLog?
    }

    private func append(_ event: Event) { lock.withLock { events.append(event) } }
    private func fail(_ message: String) { lock.withLock { failure = message } }

    private final class ConnectionBox: @unchecked Sendable {
        let connection: DaemonConnection
        init(_ connection: DaemonConnection) { self.connection = connection }
    }

    var all: [Event] { lock.withLock { events } }

    /// The states `job` went through, in order.
    func states(_ job: String) -> [JobState] { all.filter { $0.job == job }.compactMap(\.state) }

    func event(_ job: String, _ state: JobState) -> Event? { all.first { $0.job == job && $0.state == state } }

    /// Waits until `job` reaches `state` (or any final state, when `state` is nil). Fails the test on timeout.
    @discardableResult
    func wait(for job: String, _ state: JobState? = nil, timeout: TimeInterval = 15,
              file: StaticString = #filePath, line: UInt = #line) -> Event? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let found = all.first(where: { event in
                event.job == job && (state.map { event.state == $0 } ?? (event.state?.isFinal == true))
            }) {
                return found
            }
            usleep(5_000)
        }
        XCTFail("job \(job) did not reach \(state?.rawValue ?? "a final state") within \(timeout) s; it went \(states(job))",
                file: file, line: line)
        return nil
    }

    /// Waits until every job in `jobs` has a final event.
    func waitForAllFinal(_ jobs: [String], timeout: TimeInterval = 60, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let finals = Set(all.filter { $0.state?.isFinal == true }.compactMap(\.job))
            if jobs.allSatisfy(finals.contains) { return }
            usleep(20_000)
        }
        let finals = Set(all.filter { $0.state?.isFinal == true }.compactMap(\.job))
        XCTFail("jobs without a final event after \(timeout) s: \(jobs.filter { !finals.contains($0) })", file: file, line: line)
    }

    /// Asserts that `job` went exactly through `expected` (and, for a cancellation, that its reason mentions
    /// `reason`).
    func assertStates(_ job: String, _ expected: [JobState], reason: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(states(job), expected, "job \(job)", file: file, line: line)
        if let reason {
            let final = all.last { $0.job == job && $0.state?.isFinal == true }
            XCTAssertTrue(final?.reason?.contains(reason) == true,
                          "job \(job) ended with reason \(final?.reason ?? "none"), expected one mentioning \"\(reason)\"",
                          file: file, line: line)
        }
    }

    /// Asserts that `first` was heard before `second`: `second` started after `first` did, and no earlier than
    /// `first`'s end minus the device's latency (a job starts when its first sample reaches the device, and the
    /// previous one finishes when its last has been heard, up to a buffer's length later).
    func assertHeardInOrder(_ first: String, _ second: String, _ message: String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
        let deviceLatency = 0.1
        XCTAssertLessThan(time(first, .started, file: file, line: line), time(second, .started, file: file, line: line),
                          "\(first) should start before \(second). \(message)", file: file, line: line)
        XCTAssertLessThan(time(first, .finished, file: file, line: line) - deviceLatency, time(second, .started, file: file, line: line),
                          "\(second) started while \(first) was still playing. \(message)", file: file, line: line)
    }

    /// Monotonic time of `job`'s `state` event.
    func time(_ job: String, _ state: JobState, file: StaticString = #filePath, line: UInt = #line) -> Double {
        guard let event = event(job, state) else {
            XCTFail("job \(job) has no \(state.rawValue) event; it went \(states(job))", file: file, line: line)
            return .nan
        }
        return event.time
    }
}

extension DaemonConnection {
    /// Sends a speak request and returns the job id (failing the test if refused).
    func speak(_ text: String, _ fields: [String: JSONValue] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        var all = fields
        all["input"] = .string(text)
        let reply = try request("speak", all)
        XCTAssertTrue(reply.ok, "speak refused: \(reply.error?.message ?? "?")", file: file, line: line)
        return try XCTUnwrap(reply.job, file: file, line: line)
    }
}
