import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Marks inside one job (`marks`, `mark` events, `end_at_mark`) and segments requested ahead of playback, against
/// the mock upstream and the null sink.
final class MarkTests: IntegrationTestCase {
    private func startDaemon(mock: [String], device: String = "default") throws -> DaemonProcess {
        let upstream = try MockUpstream(mock, in: directory)
        let keyFile = directory.appendingPathComponent("key")
        try Harness.writePrivately("sk-test\n", to: keyFile)
        let daemon = try DaemonProcess(arguments: ["--api-base", upstream.baseURL, "--api-key-file", keyFile.path,
                                                   "--device", device], in: directory)
        self.upstream = upstream
        if device == "default" { recorder = try SinkRecorder(in: directory) }
        return daemon
    }

    /// A mark before every word, as Orca sends: the words' offsets in the text.
    private func wordMarks(_ text: String) -> [JSONValue] {
        let scalars = Array(text.unicodeScalars)
        var marks: [JSONValue] = []
        for index in scalars.indices where !scalars[index].properties.isWhitespace
            && (index == 0 || scalars[index - 1].properties.isWhitespace) {
            marks.append(.object(["name": .string("w\(marks.count)"), "at": .number(Double(index))]))
        }
        return marks
    }

    private func events(of job: String, on client: DaemonConnection) throws -> [Event] {
        var seen: [Event] = []
        while true {
            let event = try client.nextEvent()
            guard event.job == job else { continue }
            seen.append(event)
            if event.state?.isFinal == true { return seen }
        }
    }

    func testMarksArriveInOrderAfterStartedAndBeforeFinishedFromOneRequestPerSentence() throws {
        let daemon = try startDaemon(mock: ["--ms-per-char", "20"], device: "file:FILE=\(directory.path)/out.raw,FORMAT=raw")
        let text = "The quick brown fox jumps over the lazy dog. Then it rests in the warm sun for a while."
        let marks = wordMarks(text)
        let client = try daemon.connect()
        let job = try client.speak(text, ["marks": .array(marks)])
        let seen = try events(of: job, on: client)
        let states = seen.compactMap(\.state)
        XCTAssertEqual(states.first, .queued)
        XCTAssertEqual(states.last, .finished, seen.last?.reason ?? "")
        let markEvents = seen.filter { $0.state == .mark }
        XCTAssertEqual(markEvents.map(\.mark), (0..<marks.count).map { "w\($0)" }, "every mark, once, in order")
        let startedIndex = try XCTUnwrap(states.firstIndex(of: .started))
        XCTAssertLessThan(startedIndex, try XCTUnwrap(states.firstIndex(of: .mark)), "no mark before started")
        XCTAssertEqual(markEvents.map(\.time), markEvents.map(\.time).sorted())
        let requests = try XCTUnwrap(upstream).requests()
        XCTAssertEqual(requests.count, 1, "the whole text is one request (it is shorter than the opening budget), not one per word")
    }

    func testBadMarksAreRefusedNamingTheField() throws {
        let daemon = try startDaemon(mock: [], device: "null")
        let client = try daemon.connect()
        for marks: JSONValue in [
            .array([.object(["name": .string("a"), "at": .number(99)])]),
            .array([.object(["name": .string("a"), "at": .number(3)]), .object(["name": .string("b"), "at": .number(1)])]),
            .array([.object(["name": .string(""), "at": .number(0)])]),
            .string("w1"),
        ] {
            let reply = try client.request("speak", ["input": .string("Hello there."), "marks": marks])
            XCTAssertFalse(reply.ok)
            XCTAssertEqual(reply.error?.field, "marks", reply.error?.message ?? "")
        }
        let unknown = try client.request("end_at_mark", ["job": .string("999"), "prefix": .string("__spd_")])
        XCTAssertEqual(unknown.error?.code, .unknownJob)
    }

    /// `end_at_mark` while the first sentence plays: the job stops where the second sentence begins, reports the
    /// marks up to that one, and ends `cancelled` naming it; the recording holds the first sentence only.
    func testEndAtMarkStopsAtTheNextSentenceMark() throws {
        let daemon = try startDaemon(mock: ["--ms-per-char", "40"])
        let first = "This first sentence is spoken in full before the pause."
        let text = first + " The second sentence must never be heard at all."
        let secondStart = first.unicodeScalars.count + 1
        let marks: [JSONValue] = [
            .object(["name": .string("__spd_0"), "at": .number(0)]),
            .object(["name": .string("word"), "at": .number(5)]),
            .object(["name": .string("__spd_1"), "at": .number(Double(secondStart))]),
            .object(["name": .string("__spd_2"), "at": .number(Double(text.unicodeScalars.count))]),
        ]
        let client = try daemon.connect()
        let job = try client.speak(text, ["marks": .array(marks)])
        var seen: [Event] = []
        while seen.last?.state != .started { let event = try client.nextEvent(); if event.job == job { seen.append(event) } }
        usleep(300_000)
        let reply = try client.request("end_at_mark", ["job": .string(job), "prefix": .string("__spd_")])
        XCTAssertTrue(reply.ok, reply.error?.message ?? "")
        XCTAssertEqual(reply.mark, "__spd_1", "__spd_0 was heard already")
        seen += try events(of: job, on: client)
        XCTAssertEqual(seen.filter { $0.state == .mark }.map(\.mark), ["__spd_0", "word", "__spd_1"])
        let final = try XCTUnwrap(seen.last)
        XCTAssertEqual(final.state, .cancelled)
        XCTAssertEqual(final.mark, "__spd_1")
        let started = try XCTUnwrap(seen.first { $0.state == .started }).time
        let firstSeconds = Double(first.unicodeScalars.count) * 0.040
        XCTAssertEqual(final.time - started, firstSeconds, accuracy: 0.4,
                       "ended \(final.time - started) s after it started; the first sentence lasts \(firstSeconds) s")
    }
}
