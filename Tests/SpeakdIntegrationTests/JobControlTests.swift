import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// The scheduler against the real daemon, the mock upstream and the PulseAudio null sink: each SSIP priority rule,
/// cancel, skip, list, status, ttl, volume, pause and resume, and a stress run.
final class JobControlTests: IntegrationTestCase {
    /// Milliseconds of mock audio per character of text.
    private let msPerChar = 20.0
    /// A null-sink recording runs in every test playing to PulseAudio: with no client on its monitor, the null sink

    private func startDaemon(device: String = "default", mock: [String] = []) throws -> (DaemonProcess, MockUpstream) {
        let upstream = try MockUpstream(["--ms-per-char", "\(msPerChar)"] + mock, in: directory)
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path,
                                                   "--device", device], in: directory)
        self.upstream = upstream
        if device == "default", recorder == nil { recorder = try SinkRecorder(in: directory) }
        return (daemon, upstream)
    }

    /// A text whose mock audio lasts about `seconds`, distinct per `tag`.
    private func text(_ tag: String, seconds: Double) -> String {
        let count = max(Int(seconds * 1000 / msPerChar), tag.count + 2)
        let filler = String(repeating: "a", count: count - tag.count - 2)
        return "\(tag) \(filler)."
    }

    private func speak(_ connection: DaemonConnection, _ tag: String, seconds: Double, _ priority: String,
                       _ extra: [String: JSONValue] = [:]) throws -> String {
        var fields = extra
        fields["priority"] = .string(priority)
        return try connection.speak(text(tag, seconds: seconds), fields)
    }

    // MARK: priorities

    func testImportantCutsSpeechAndPostponesWaitingMessages() throws {
        let (daemon, upstream) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let m1 = try speak(client, "m1", seconds: 3, "message")
        log.wait(for: m1, .started)
        // m2 is synthesized into the ring behind m1 at once: the important job must still come first.
        let m2 = try speak(client, "m2", seconds: 0.4, "message")
        usleep(300_000)
        let i1 = try speak(client, "i1", seconds: 0.4, "important")
        log.waitForAllFinal([m1, m2, i1])
        log.assertStates(m1, [.queued, .started, .cancelled], reason: "important")
        log.assertStates(i1, [.queued, .started, .finished])
        log.assertStates(m2, [.queued, .started, .finished])
        XCTAssertLessThan(log.time(m1, .cancelled), log.time(i1, .started))
        log.assertHeardInOrder(i1, m2, "the postponed message played before the important one ended")
        // m2 was pulled back out of the ring and written again after i1: from the phrase cache, which its complete
        // first synthesis had filled, so the upstream was asked once.
        let inputs = try upstream.requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs.filter { $0.hasPrefix("m2") }.count, 1, "requests: \(inputs.map { $0.prefix(2) })")
        let cache = try XCTUnwrap(try client.request("cache", ["action": .string("stats")]).cache)
        XCTAssertEqual(cache.hits, 1)
    }

    func testImportantIsNeverInterrupted() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let i1 = try speak(client, "i1", seconds: 1.5, "important")
        log.wait(for: i1, .started)
        let t1 = try speak(client, "t1", seconds: 0.3, "text")
        let x1 = try speak(client, "x1", seconds: 0.3, "message", ["interrupt": .bool(true)])
        let i2 = try speak(client, "i2", seconds: 0.3, "important")
        let m1 = try speak(client, "m1", seconds: 0.3, "message")
        log.waitForAllFinal([i1, t1, x1, i2, m1])
        log.assertStates(i1, [.queued, .started, .finished])
        log.assertStates(i2, [.queued, .started, .finished])
        log.assertStates(x1, [.queued, .started, .finished])
        // The message cancels the waiting text job, as it would a speaking one.
        log.assertStates(t1, [.queued, .cancelled], reason: "message")
        log.assertStates(m1, [.queued, .started, .finished])
        // Order heard: i1, then the other important, then the interrupting one, then the message.
        log.assertHeardInOrder(i1, i2)
        log.assertHeardInOrder(i2, x1)
        log.assertHeardInOrder(x1, m1)
    }

    func testMessagesQueueBehindEachOtherAndCancelText() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let t1 = try speak(client, "t1", seconds: 3, "text")
        log.wait(for: t1, .started)
        let m1 = try speak(client, "m1", seconds: 0.8, "message")
        let m2 = try speak(client, "m2", seconds: 0.4, "message")
        log.wait(for: m2, .started)
        let t2 = try speak(client, "t2", seconds: 0.3, "text")
        log.waitForAllFinal([t1, m1, m2, t2])
        log.assertStates(t1, [.queued, .started, .cancelled], reason: "message")
        log.assertStates(m1, [.queued, .started, .finished])
        log.assertStates(m2, [.queued, .started, .finished])
        log.assertStates(t2, [.queued, .started, .finished])
        log.assertHeardInOrder(m1, m2, "a message interrupted a message")
        log.assertHeardInOrder(m2, t2, "text jumped ahead of a message")
    }

    func testTextInterruptsItself() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let t1 = try speak(client, "t1", seconds: 3, "text")
        log.wait(for: t1, .started)
        let t2 = try speak(client, "t2", seconds: 3, "text")
        let t3 = try speak(client, "t3", seconds: 0.4, "text")
        log.waitForAllFinal([t1, t2, t3])
        log.assertStates(t1, [.queued, .started, .cancelled], reason: "newer text")
        XCTAssertEqual(log.states(t2).last, .cancelled)
        log.assertStates(t3, [.queued, .started, .finished])
    }

    func testNotificationsGiveWayToEverythingAndReplaceEachOther() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let m1 = try speak(client, "m1", seconds: 1, "message")
        log.wait(for: m1, .started)
        let n1 = try speak(client, "n1", seconds: 0.3, "notification")
        log.wait(for: n1)
        log.assertStates(n1, [.queued, .cancelled], reason: "dropped")
        log.wait(for: m1)
        log.assertStates(m1, [.queued, .started, .finished])

        let n2 = try speak(client, "n2", seconds: 3, "notification")
        log.wait(for: n2, .started)
        let n3 = try speak(client, "n3", seconds: 3, "notification")
        log.wait(for: n3, .started)
        let i1 = try speak(client, "i1", seconds: 0.3, "important")
        log.waitForAllFinal([n2, n3, i1])
        log.assertStates(n2, [.queued, .started, .cancelled], reason: "newer notification")
        log.assertStates(n3, [.queued, .started, .cancelled], reason: "important")
        log.assertStates(i1, [.queued, .started, .finished])
    }

    func testProgressSpeaksTheFirstAndTheLastReport() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let p1 = try speak(client, "p1", seconds: 1.5, "progress")
        log.wait(for: p1, .started)
        let p2 = try speak(client, "p2", seconds: 0.3, "progress")
        let p3 = try speak(client, "p3", seconds: 0.3, "progress")
        let p4 = try speak(client, "p4", seconds: 0.3, "progress")
        // The last report is spoken as a message: a message arriving now does not cancel it.
        let m1 = try speak(client, "m1", seconds: 0.3, "message")
        log.waitForAllFinal([p1, p2, p3, p4, m1])
        log.assertStates(p1, [.queued, .started, .cancelled], reason: "message")
        log.assertStates(p2, [.queued, .cancelled], reason: "superseded")
        log.assertStates(p3, [.queued, .cancelled], reason: "superseded")
        log.assertStates(p4, [.queued, .started, .finished])
        log.assertStates(m1, [.queued, .started, .finished])
        log.assertHeardInOrder(p4, m1)
    }

    func testInterruptCutsWhatIsSpeakingAndSpeaksNext() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let m1 = try speak(client, "m1", seconds: 3, "message")
        log.wait(for: m1, .started)
        let m2 = try speak(client, "m2", seconds: 0.3, "message")
        let result = try daemon.speakctl(["-v", "--interrupt", text("x1", seconds: 0.3)])
        XCTAssertEqual(result.status, 0, result.stderr)
        let x1 = try XCTUnwrap(result.stderr.split(separator: " ").dropFirst(2).first.map(String.init), result.stderr)
        log.waitForAllFinal([m1, m2, x1])
        log.assertStates(m1, [.queued, .started, .cancelled], reason: "interrupted")
        log.assertStates(x1, [.queued, .started, .finished])
        log.assertStates(m2, [.queued, .started, .finished])
        log.assertHeardInOrder(x1, m2)
    }

    // MARK: operations

    func testCancelSkipListAndStatus() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let a = try speak(client, "a", seconds: 3, "message")
        let b = try speak(client, "b", seconds: 3, "message")
        let c = try speak(client, "c", seconds: 0.5, "message", ["ttl": .number(30)])
        log.wait(for: a, .started)
        usleep(500_000)

        let list = try XCTUnwrap(try client.request("list").jobs)
        XCTAssertEqual(list.map(\.job), [a, b, c])
        guard list.count == 3 else { return }
        XCTAssertEqual(list.first?.state, "playing")
        XCTAssertEqual(list.last?.priority, .message)
        XCTAssertNotNil(list.last?.expiresIn)
        XCTAssertTrue(list[1].text.hasPrefix("b "))

        let status = try XCTUnwrap(try client.request("status").status)
        XCTAssertEqual(status.currentJob, a)
        let position = try XCTUnwrap(status.position)
        XCTAssertGreaterThan(position, 0.3)
        XCTAssertLessThan(position, 2.5)
        XCTAssertEqual(status.currentEngine, "openai")

        XCTAssertEqual(try client.request("cancel", ["job": .string(b)]).cancelled, 1)
        XCTAssertEqual(try client.request("skip").cancelled, 1)
        log.waitForAllFinal([a, b, c])
        log.assertStates(a, [.queued, .started, .cancelled], reason: "skipped")
        log.assertStates(b, [.queued, .cancelled], reason: "cancelled by a client")
        log.assertStates(c, [.queued, .started, .finished])

        XCTAssertEqual(try client.request("cancel", ["job": .string(c)]).cancelled, 0, "an ended job")
        let unknown = try client.request("cancel", ["job": .string("999")])
        XCTAssertEqual(unknown.error?.code, .unknownJob)
        XCTAssertEqual(try client.request("list").jobs, [])
        let speakctlList = try daemon.speakctl(["list"])
        XCTAssertEqual(speakctlList.stdout, "nothing queued\n")
    }

    func testAnAnnouncementThatCannotStartInTimeExpires() throws {
        let (daemon, _) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let client = try daemon.connect()
        let long = try speak(client, "long", seconds: 2, "message")
        log.wait(for: long, .started)
        let late = try speak(client, "late", seconds: 0.3, "message", ["ttl": .number(0.5)])
        let patient = try speak(client, "patient", seconds: 0.3, "message", ["ttl": .number(30)])
        log.waitForAllFinal([long, late, patient])
        log.assertStates(long, [.queued, .started, .finished])
        log.assertStates(late, [.queued, .expired], reason: "ttl")
        log.assertStates(patient, [.queued, .started, .finished])
        let expiredAfter = log.time(late, .expired) - log.time(late, .queued)
        XCTAssertEqual(expiredAfter, 0.5, accuracy: 0.2)

        let result = try daemon.speakctl(["--wait", "--ttl", "0.2", "--priority", "message", text("w", seconds: 0.2)])
        XCTAssertEqual(result.status, 0, "nothing else is playing: it starts in time. \(result.stderr)")
    }

    func testVolumeScalesTheSamplesWithoutWrapping() throws {
        let capture = directory.appendingPathComponent("capture.raw").path
        let (daemon, upstream) = try startDaemon(device: "file:FILE=\(capture),FORMAT=raw")
        let quiet = try daemon.speakctl(["--wait", "--volume", "0.5", "Half as loud."])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().last?.pcm))
        // The file PCM stays open between jobs: each job's audio is appended.
        var played = SinkRecorder.samples(of: try Data(contentsOf: URL(fileURLWithPath: capture)))
        XCTAssertEqual(played, sent.map { Int16((Double($0) * 0.5).rounded()) })
        let before = played.count

        let loud = try daemon.speakctl(["--wait", "--volume", "2", "--speed", "1.0", "Twice as loud."])
        XCTAssertEqual(loud.status, 0, loud.stderr)
        let sentLoud = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().last?.pcm))
        played = Array(SinkRecorder.samples(of: try Data(contentsOf: URL(fileURLWithPath: capture))).dropFirst(before))
        XCTAssertEqual(played, sentLoud.map { Int16(max(-32768, min(32767, Int($0) * 2))) })
        let refused = try daemon.speakctl(["--volume", "3", "Too loud."])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("volume"), refused.stderr)
    }

    /// Pause for a second, resume: the recording, silence removed, is the audio sent, with a fade-out before the pause
    /// and a fade-in after it, and not one sample lost or repeated.
    func testPauseAndResumeContinueAtTheExactSample() throws {
        let (daemon, upstream) = try startDaemon()
        let log = try EventLog(daemon: daemon)
        let recorder = try XCTUnwrap(self.recorder)
        let client = try daemon.connect()
        let job = try client.speak(text("pause", seconds: 2.5))
        log.wait(for: job, .started)
        usleep(800_000)
        XCTAssertTrue(try client.request("pause").ok)
        usleep(1_000_000)
        let paused = try XCTUnwrap(try client.request("status").status)
        XCTAssertTrue(paused.paused)
        XCTAssertEqual(try client.request("list").jobs?.first?.state, "paused")
        XCTAssertTrue(try client.request("resume").ok)
        log.wait(for: job)
        usleep(300_000)
        let recorded = recorder.stop()
        log.assertStates(job, [.queued, .started, .paused, .resumed, .finished])

        let sent = SinkRecorder.samples(of: try XCTUnwrap(try upstream.requests().first?.pcm))
        let anchor = try XCTUnwrap(recorded.firstIndex(ofSequence: sent[4_800..<5_040]), "the sent audio is not in the recording")
        let origin = anchor - 4_800
        // Exact up to the pause.
        var diverged = 4_800
        while diverged < sent.count, recorded[origin + diverged] == sent[diverged] { diverged += 1 }
        XCTAssertGreaterThan(diverged, 12_000, "diverged before the pause")
        XCTAssertLessThan(diverged, sent.count - 12_000, "no pause in the recording")
        // The fade-out: 48 samples (2 ms) of the audio, each scaled by the raised-cosine ramp, computed as the daemon
        // does. Its first samples keep (almost) full gain, so it starts at or a little before the divergence.
        let fade = 48
        let fadeStart = try XCTUnwrap((max(diverged - 8, 0)...diverged).first { start in
            (0..<fade).allSatisfy { recorded[origin + start + $0] == ramp(sent[start + $0], $0, of: fade, rising: false) }
        }, "no exact fade-out where the recording leaves the audio sent")
        // About a second of silence.
        var soundAgain = origin + fadeStart + fade
        while soundAgain < recorded.count, recorded[soundAgain] == 0 { soundAgain += 1 }
        XCTAssertEqual(Double(soundAgain - origin - fadeStart - fade) / 24_000, 1.0, accuracy: 0.25, "pause length")
        // The fade-in continues with the very next sample after the fade-out (its first gains are 0, so it starts a
        // sample or two before the silence ends), then the rest, exactly: nothing lost, nothing repeated.
        let resumeFrom = fadeStart + fade
        let fadeIn = try XCTUnwrap((max(soundAgain - 4, 0)...soundAgain).first { start in
            (0..<fade).allSatisfy { recorded[start + $0] == ramp(sent[resumeFrom + $0], $0, of: fade, rising: true) }
        }, "the audio after the pause does not continue right after the faded samples")
        let tail = sent[(resumeFrom + fade)...]
        let rest = recorded[(fadeIn + fade)...].prefix(tail.count)
        XCTAssertEqual(rest.count, tail.count, "recording ends early")
        XCTAssertTrue(rest.elementsEqual(tail), "audio after the fade-in differs from what was sent")
    }

    /// The daemon's fade: a raised-cosine gain per frame, rounded to the nearest sample value.
    private func ramp(_ sample: Int16, _ index: Int, of length: Int, rising: Bool) -> Int16 {
        let phase = Double.pi * Double(index) / Double(length)
        let gain = rising ? 0.5 - 0.5 * cos(phase) : 0.5 + 0.5 * cos(phase)
        return Int16((Double(sample) * gain).rounded())
    }

    // MARK: load

    func testTwoHundredJobsFromTenClientsEachEndExactlyOnce() throws {
        let (daemon, _) = try startDaemon(mock: ["--ms-per-char", "2"])
        let log = try EventLog(daemon: daemon)
        // Warm up first: the audio device and the upstream connection are opened once and kept.
        let warmUp = try daemon.speakctl(["--wait", "Warm up."])
        XCTAssertEqual(warmUp.status, 0, warmUp.stderr)
        let descriptorsBefore = try daemon.openDescriptors()
        let rssBefore = try daemon.residentKilobytes()
        let jobs = JobList()
        let socketPath = daemon.socketPath
        let group = DispatchGroup()
        for clientNumber in 0..<10 {
            group.enter()
            Thread {
                defer { group.leave() }
                var random = SystemRandomNumberGenerator()
                guard let client = try? DaemonConnection(path: socketPath) else { return jobs.fail("client \(clientNumber) could not connect") }
                let priorities = ["important", "message", "text", "notification", "progress"]
                for number in 0..<20 {
                    let priority = priorities[Int(random.next() % 5)]
                    guard let reply = try? client.request("speak", ["input": .string("Client \(clientNumber) job \(number)."),
                                                                    "priority": .string(priority)]),
                          let job = reply.job else { return jobs.fail("speak refused") }
                    jobs.add(job)
                    switch random.next() % 10 {
                    case 0: _ = try? client.request("stop")
                    case 1, 2: _ = try? client.request("cancel", ["job": .string(job)])
                    case 3: _ = try? client.request("skip")
                    default: break
                    }
                    usleep(UInt32(random.next() % 30_000))
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertNil(jobs.failure)
        XCTAssertEqual(jobs.all.count, 200)
        log.waitForAllFinal(jobs.all, timeout: 120)
        for job in jobs.all {
            let states = log.states(job)
            XCTAssertEqual(states.filter(\.isFinal).count, 1, "job \(job): \(states)")
            XCTAssertEqual(states.first, .queued, "job \(job): \(states)")
        }
        let client = try daemon.connect()
        XCTAssertEqual(try client.request("list").jobs, [])
        let status = try XCTUnwrap(try client.request("status").status)
        XCTAssertNil(status.currentJob)
        XCTAssertEqual(status.queued, 0)
        // Nothing leaks: the clients' sockets are closed, and memory is where it was, give or take allocator noise.
        // Closed client sockets and idle upstream connections take a moment to go: poll.
        let deadline = Date().addingTimeInterval(10)
        while try daemon.openDescriptors() > descriptorsBefore + 2, Date() < deadline { usleep(100_000) }
        XCTAssertLessThanOrEqual(try daemon.openDescriptors(), descriptorsBefore + 2,
                                 "descriptors leak: \(daemon.describeDescriptors())")
        XCTAssertLessThan(try daemon.residentKilobytes() - rssBefore, 16_384, "memory grew by more than 16 MiB")
    }

    func testASubscriberThatNeverReadsBlocksNobody() throws {
        let (daemon, _) = try startDaemon(mock: ["--ms-per-char", "1"])
        // Subscribes, then never reads a byte.
        let silent = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var size: Int32 = 4_096
        setsockopt(silent, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            daemon.socketPath.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let subscribe = Array(#"{"op":"subscribe"}"#.utf8) + [10]
        XCTAssertEqual(write(silent, subscribe, subscribe.count), subscribe.count)

        // Meanwhile another client gets hundreds of events through, and every job plays.
        let client = try daemon.connect()
        let begin = Date()
        for number in 0..<150 {
            _ = try client.speak("Job \(number) keeps the events coming.", ["priority": .string("text")])
        }
        let last = try client.speak("The last one.")
        while true {
            let event = try client.nextEvent()
            if event.job == last, event.state?.isFinal == true {
                XCTAssertEqual(event.state, .finished)
                break
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(begin), 30)
        XCTAssertTrue(try client.request("ping").ok)
    }
}

/// Job ids collected by the stress test's threads.
private final class JobList: @unchecked Sendable {
    private let lock = NSLock()
    private var jobs: [String] = []
    private(set) var failure: String?
    func add(_ job: String) { lock.withLock { jobs.append(job) } }
    func fail(_ message: String) { lock.withLock { failure = message } }
    var all: [String] { lock.withLock { jobs } }
}

extension DaemonProcess {
    var pid: Int32 { child.process.processIdentifier }

    func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }

    func describeDescriptors() -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return names.sorted().map { "\($0)→\((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "?")" }
            .joined(separator: " ")
    }

    func residentKilobytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
