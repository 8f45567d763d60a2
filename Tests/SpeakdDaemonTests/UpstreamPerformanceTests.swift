import XCTest
@testable import SpeakdDaemon

/// What speakd learns of an upstream's pace, and the segments it plans from it.
final class UpstreamPerformanceTests: XCTestCase {
    private func observation(_ characters: Int, firstByte: Double, audio: Double, stream: Double) -> UpstreamPerformance.Observation {
        .init(characters: characters, firstByte: firstByte, audioSeconds: audio, streamSeconds: stream, laterAudioSeconds: audio * 0.9)
    }

    func testTheFitRecoversTheFirstByteLineAndTheDeliveryRate() {
        let model = UpstreamPerformance.fit([
            observation(10, firstByte: 0.7, audio: 0.6, stream: 0.36),
            observation(60, firstByte: 1.7, audio: 3.6, stream: 2.16),
            observation(120, firstByte: 2.9, audio: 7.2, stream: 4.32),
        ])
        XCTAssertEqual(model.firstByteBase, 0.5, accuracy: 0.01)
        XCTAssertEqual(model.firstBytePerCharacter, 0.02, accuracy: 0.001)
        XCTAssertEqual(model.audioPerCharacter, 0.06, accuracy: 0.001)
        XCTAssertEqual(model.arrivalRate, 1.5, accuracy: 0.01)
    }

    func testABodyInOnePieceWasProducedAtAudioOverFirstByte() {
        let fast = UpstreamPerformance.fit([.init(characters: 40, firstByte: 1, audioSeconds: 2.4, streamSeconds: 0.001,
                                                  laterAudioSeconds: 0)])
        XCTAssertEqual(fast.arrivalRate, 2.4, accuracy: 0.01)
        // A sentence a CPU-bound server took 3 s to make for 2.5 s of speech: slower than real time.
        let slow = UpstreamPerformance.fit([.init(characters: 40, firstByte: 3, audioSeconds: 2.5, streamSeconds: 0,
                                                  laterAudioSeconds: 0)])
        XCTAssertLessThan(slow.arrivalRate, 1)
        // A short phrase's ratio is the server's latency, not its pace: no evidence, counted as fast.
        let short = UpstreamPerformance.fit([.init(characters: 3, firstByte: 0.5, audioSeconds: 0.4, streamSeconds: 0,
                                                   laterAudioSeconds: 0)])
        XCTAssertGreaterThan(short.arrivalRate, 1)
    }

    func testSequentialSegmentsGrowSoEachArrivesBeforeTheAudioAheadRunsOut() {
        var model = UpstreamPerformance.Model()
        (model.firstByteBase, model.firstBytePerCharacter, model.audioPerCharacter) = (0.5, 0.02, 0.06)
        let sizes = UpstreamPerformance.sequentialGrowth(opening: 26, sentence: 77, model: model)
        XCTAssertEqual(sizes.first, 51, "the rest of the sentence comes alone")
        XCTAssertEqual(sizes.dropFirst().map { $0 }, sizes.dropFirst().sorted(), "segments grow")
        // Replay the plan: every segment's first byte comes before the audio ahead of it has played out.
        var arrives = 0.5 + 0.02 * 26, playedOut = arrives + 0.06 * 26
        for size in sizes {
            arrives += 0.5 + 0.02 * Double(size)
            XCTAssertLessThanOrEqual(arrives, playedOut + 0.01, "a segment of \(size) characters comes too late")
            playedOut = max(playedOut, arrives) + 0.06 * Double(size)
        }
    }

    /// The pauses of a job's timeline (before a segment, at silences inside one) are what `status` reports under
    /// `pacing`; a pause shorter than the device's own latency is not one, and a job without any clears the note.
    func testTheLastJobsPausesAreReportedAndCleared() {
        let performance = UpstreamPerformance(name: "kokoro", path: nil)
        var first = SegmentTimeline.Entry(index: 0, characters: 56)
        first.pausesWithin = [0.3]
        var second = SegmentTimeline.Entry(index: 1, characters: 342)
        second.pauseBefore = 0.65
        var third = SegmentTimeline.Entry(index: 2, characters: 71)
        third.pauseBefore = 0.01
        performance.recordPauses(of: [first, second, third])
        let notes = performance.pacingNotes
        XCTAssertEqual(notes.count, 1, "\(notes)")
        XCTAssertTrue(notes.first?.contains("was late 2 times in the last job (0.95 s of pause in all") == true, "\(notes)")
        XCTAssertTrue(notes.first?.contains("2 joins") == true, "\(notes)")
        performance.recordPauses(of: [SegmentTimeline.Entry(index: 0, characters: 56)])
        XCTAssertEqual(performance.pacingNotes, [])
    }

    /// The timeline names the segment the device ran dry in, and tells a late segment (dry at its first sample)
    /// from a gap inside one.
    func testTheTimelineNamesWhereTheDeviceRanDry() {
        let timeline = SegmentTimeline(began: 100)
        var first = SegmentTimeline.Entry(index: 0, characters: 56)
        (first.arrival.requestedAt, first.arrival.firstAudioAt, first.arrival.doneAt, first.startPosition) = (100, 102.6, 102.6, 0)
        var second = SegmentTimeline.Entry(index: 1, characters: 342)
        (second.arrival.requestedAt, second.arrival.firstAudioAt, second.arrival.doneAt, second.startPosition) = (102.6, 106.2, 118.6, 72_000)
        timeline.record(second)
        timeline.record(first)
        XCTAssertEqual(timeline.segment(at: 71_999), 0)
        XCTAssertEqual(timeline.segment(at: 72_000), 1)
        let late = timeline.description(ranDryAt: 72_000)
        XCTAssertTrue(late.hasPrefix("segment 0 (56 characters): requested +0.0, audio +2.6…+2.6"), late)
        XCTAssertTrue(late.hasSuffix("the device ran dry before it (it came late)"), late)
        XCTAssertTrue(timeline.description(ranDryAt: 30_000).contains("pauses within [] s <- the device ran dry inside it; segment 1"),
                      timeline.description(ranDryAt: 30_000))
    }

    /// A stream that resumed after a long wait just as another request got its first audio shows a server that
    /// serves one request at a time: from then on one request runs at once, remembered across restarts; a short wait,
    /// its own first audio, or a resumption far from another's first audio are not evidence, and a configured
    /// `concurrent_requests` wins.
    func testAServerSeenToServeOneRequestAtATimeGetsOne() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("upstream-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let performance = UpstreamPerformance(name: "kokoro", path: path)
        XCTAssertEqual(performance.maximumInFlight, 2)
        let first = performance.beginRequest(), second = performance.beginRequest()
        performance.noteFirstAudio(request: first, at: 2.60)
        performance.noteFirstAudio(request: second, at: 6.08)
        performance.noteResumed(request: first, at: 6.09, waited: 0.3)
        performance.noteResumed(request: second, at: 6.09, waited: 3.5)
        performance.noteResumed(request: first, at: 6.20, waited: 3.5)
        XCTAssertFalse(performance.servesOneAtATime)
        performance.noteResumed(request: first, at: 6.09, waited: 3.49)
        XCTAssertTrue(performance.servesOneAtATime)
        XCTAssertEqual(performance.maximumInFlight, 1)
        XCTAssertTrue(UpstreamPerformance(name: "kokoro", path: path).servesOneAtATime, "kept across a restart")
        XCTAssertEqual(UpstreamPerformance(name: "kokoro", path: path, concurrentRequests: 3).maximumInFlight, 3)
    }
}
