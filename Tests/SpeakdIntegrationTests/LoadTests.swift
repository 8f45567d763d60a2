import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// 100 clients × 50 jobs against the real daemon and the mock upstream, on ALSA's `null` device (no pacing: the
/// scheduler, the socket and the upstream path are what is loaded): exactly one terminal event per job, 5,000 in all,
/// and the daemon's memory and descriptors where they were.
final class LoadTests: IntegrationTestCase {

    func testAHundredClientsTimesFiftyJobsEndExactlyOnceWithFlatMemoryAndDescriptors() throws {
        let clients = 100
        let jobsPerClient = 50
        // 100 ms of audio per job (the mock's minimum), streamed at once.
        let upstream = try MockUpstream(["--ms-per-char", "1"], in: directory)
        self.upstream = upstream
        // No phrase cache: it keeps up to 16 MiB of decoded phrases in memory by design (bounded by its own tests),
        // which would hide a leak in the job path this test is about.
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--device", "null", "--log-level", "info",
                                                   "--no-cache"],
                                       in: directory, environment: ["OPENAI_API_KEY": "sk-test"])
        let log = try EventLog(daemon: daemon)
        // Warm up with a smaller burst of the same shape: the device and the upstream connection are opened once and
        // kept, and the allocator's per-thread arenas reach their working size (the first burst grows them by
        // ~2 MiB; later ones by ~0.1–0.3 MiB, flattening: measured over 8 rounds of 2,500 jobs).
        XCTAssertNil(Self.burst(socketPath: daemon.socketPath, clients: clients, jobsEach: 10, tag: "warm-up"))
        let descriptorsBefore = try daemon.openDescriptors()
        let rssBefore = try daemon.residentKilobytes()

        // Each client sends its jobs in two rounds of 25 on the same connection and waits for their final events
        // in between; memory and descriptors are read after each round. Both rounds do the same work, so the second
        // starts from the first's high-water mark: a leak shows as growth from one round to the next, while the
        // allocator's first growth to the working size (100 connections, 2,500 jobs queued) does not.
        let begin = Date()
        let results = ClientResults()
        let socketPath = daemon.socketPath
        let rounds = [DispatchGroup(), DispatchGroup()]
        let secondRound = DispatchSemaphore(value: 0)
        // Connections stay open until the second round has been measured, so both rounds are measured alike.
        let measured = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for clientNumber in 0..<clients {
            rounds.forEach { $0.enter() }
            done.enter()
            Thread {
                defer { done.leave() }
                var leftRounds = rounds
                do {
                    let client = try DaemonConnection(path: socketPath)
                    for round in 0..<2 {
                        if round == 1 { secondRound.wait() }
                        var mine: Set<String> = []
                        for number in 0..<(jobsPerClient / 2) {
                            let reply = try client.request("speak", ["input": .string("Client \(clientNumber) round \(round) job \(number)."),
                                                                     "priority": .string("message")])
                            guard reply.ok, let job = reply.job else { throw HarnessError("speak refused: \(String(describing: reply.error))") }
                            mine.insert(job)
                        }
                        // Each client hears about its own jobs: exactly one final event each.
                        var finals: [String: Int] = [:]
                        while finals.count < mine.count {
                            let event = try client.nextEvent()
                            if let job = event.job, mine.contains(job), event.state?.isFinal == true { finals[job, default: 0] += 1 }
                        }
                        results.add(jobs: mine, finals: finals.values.reduce(0, +))
                        leftRounds.removeFirst().leave()
                    }
                    measured.wait()
                } catch {
                    results.fail("client \(clientNumber): \(error)")
                    leftRounds.forEach { $0.leave() }
                }
            }.start()
        }
        XCTAssertEqual(rounds[0].wait(timeout: .now() + 60), .success, "the first round did not finish")
        let descriptorsAfterFirst = try daemon.openDescriptors()
        let rssAfterFirst = try daemon.residentKilobytes()
        for _ in 0..<clients { secondRound.signal() }
        XCTAssertEqual(rounds[1].wait(timeout: .now() + 60), .success, "the second round did not finish")
        let descriptorsAfterSecond = try daemon.openDescriptors()
        let rssAfterSecond = try daemon.residentKilobytes()
        for _ in 0..<clients { measured.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        let seconds = Date().timeIntervalSince(begin)
        XCTAssertNil(results.failure)
        XCTAssertEqual(results.jobs.count, clients * jobsPerClient)
        XCTAssertEqual(results.finals, clients * jobsPerClient)

        // The subscriber saw the same: 5,000 terminal events, one per job, each of them finished.
        log.waitForAllFinal(Array(results.jobs), timeout: 30)
        let finalEvents = log.all.filter { results.jobs.contains($0.job ?? "") && $0.state?.isFinal == true }
        XCTAssertEqual(finalEvents.count, clients * jobsPerClient)
        XCTAssertEqual(Set(finalEvents.compactMap(\.job)).count, clients * jobsPerClient)
        XCTAssertEqual(finalEvents.filter { $0.state == .finished }.count, clients * jobsPerClient,
                       "not finished: \(finalEvents.filter { $0.state != .finished }.prefix(3))")

        let status = try XCTUnwrap(try daemon.connect().request("status").status)
        XCTAssertNil(status.currentJob)
        XCTAssertEqual(status.queued, 0)
        // The clients have closed their connections: their descriptors go, in a moment.
        let deadline = Date().addingTimeInterval(10)
        while try daemon.openDescriptors() > descriptorsBefore, Date() < deadline { usleep(100_000) }
        let descriptorsAfter = try daemon.openDescriptors()
        let rssAfter = try daemon.residentKilobytes()
        print("""
            load: \(clients) clients × \(jobsPerClient) jobs in \(String(format: "%.1f", seconds)) s; \
            descriptors \(descriptorsBefore) → \(descriptorsAfterFirst) (first round) → \(descriptorsAfterSecond) (second) → \
            \(descriptorsAfter) (clients gone); RSS \(rssBefore) → \(rssAfterFirst) → \(rssAfterSecond) → \(rssAfter) KiB
            """)
        XCTAssertEqual(descriptorsAfterSecond, descriptorsAfterFirst, "descriptors grew from one round to the next")
        XCTAssertLessThanOrEqual(descriptorsAfter, descriptorsBefore, "descriptors leak: \(daemon.describeDescriptors())")
        XCTAssertLessThan(rssAfterSecond - rssAfterFirst, 2_048, "memory grew by more than 2 MiB from one round of 2,500 jobs to the next")
        XCTAssertLessThan(rssAfter - rssBefore, 16_384, "memory grew by more than 16 MiB over 5,000 jobs")
        XCTAssertLessThan(seconds, 60)
    }
}

extension LoadTests {
    /// `clients` connections at once, each speaking `jobsEach` jobs and waiting for their final events. Returns the
    /// first failure, if any.
    static func burst(socketPath: String, clients: Int, jobsEach: Int, tag: String) -> String? {
        let results = ClientResults()
        let group = DispatchGroup()
        for clientNumber in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try DaemonConnection(path: socketPath)
                    var mine: Set<String> = []
                    for number in 0..<jobsEach {
                        let reply = try client.request("speak", ["input": .string("\(tag) \(clientNumber) \(number)."),
                                                                 "priority": .string("message")])
                        if let job = reply.job { mine.insert(job) }
                    }
                    var finals: Set<String> = []
                    while finals.count < mine.count {
                        let event = try client.nextEvent()
                        if let job = event.job, mine.contains(job), event.state?.isFinal == true { finals.insert(job) }
                    }
                } catch {
                    results.fail("\(tag) client \(clientNumber): \(error)")
                }
            }.start()
        }
        guard group.wait(timeout: .now() + 60) == .success else { return "\(tag): clients did not finish" }
        return results.failure
    }
}

/// What the load test's client threads report.
private final class ClientResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var jobs: Set<String> = []
    private(set) var finals = 0
    private(set) var failure: String?

    func add(jobs new: Set<String>, finals count: Int) {
        lock.withLock {
            jobs.formUnion(new)
            finals += count
        }
    }

    func fail(_ message: String) { lock.withLock { failure = failure ?? message } }
}
