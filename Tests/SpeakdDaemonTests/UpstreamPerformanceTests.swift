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
}
