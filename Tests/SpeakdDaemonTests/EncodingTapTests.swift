import Dispatch
import SpeakdCore
import SpeakdEncoding
import Synchronization
import XCTest
@testable import SpeakdDaemon

/// The tap between the writer task and an encoder: never blocks a played job's writer, fails (not waits) when the
/// encoder falls behind, waits instead for jobs that are not played, and reports exactly once.
final class EncodingTapTests: XCTestCase {
    /// A destination whose writes take `delay` seconds each (a stalled disk), counting what reached it.
    private final class SlowDestination: TapDestination, EncodedSink {
        let delay: useconds_t
        let name = "slow"
        let isSeekable = true
        var offset = 0
        var bytes = 0
        var committed = false
        var discarded = false
        init(delay: useconds_t) { self.delay = delay }
        var sink: any EncodedSink { self }
        func prepare() throws(EncoderError) {}
        func write(_ chunk: UnsafeRawBufferPointer) throws(EncoderError) {
            usleep(delay)
            offset += chunk.count
            bytes = max(bytes, offset)
        }
        func seek(to target: Int) throws(EncoderError) { offset = target }
        func commit() throws(EncoderError) -> String? { committed = true; return "slow" }
        func discard() { discarded = true }
    }

    private final class Outcomes: Sendable {
        let list = Mutex<[EncodingTap.Outcome]>([])
        func add(_ outcome: EncodingTap.Outcome) { list.withLock { $0.append(outcome) } }
        var all: [EncodingTap.Outcome] { list.withLock { $0 } }
    }

    private let format = PCMFormat(sampleRate: 24_000)
    private let chunk = [Int16](repeating: 1000, count: 2_400)  // 0.1 s

    func testAStalledEncoderFailsTheTapWithoutBlockingTheWriter() throws {
        let destination = SlowDestination(delay: 50_000)
        let outcomes = Outcomes()
        let queue = try EncoderThread.start()
        let tap = EncodingTap(destination: destination, format: .wav, settings: EncoderSettings(), tags: Tags(),
                              mode: .dropOnLag, queue: queue, maximumLag: 1) { outcomes.add($0) }
        let started = DispatchTime.now()
        for _ in 0..<50 { tap.feed(chunk, format: format) }  // 5 s of audio at once
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        XCTAssertLessThan(elapsed, 0.2, "feed waited for the encoder")
        tap.finishInput(format: format)
        tap.commit()
        queue.drain()
        guard case .failed(let reason)? = outcomes.all.first else { return XCTFail("no failure: \(outcomes.all)") }
        XCTAssertTrue(reason.contains("behind"), reason)
        XCTAssertEqual(outcomes.all.count, 1)
        XCTAssertTrue(destination.discarded)
        XCTAssertFalse(destination.committed)
    }

    func testBackpressureWaitsAndKeepsEverySample() async throws {
        let destination = SlowDestination(delay: 2_000)
        let outcomes = Outcomes()
        let queue = try EncoderThread.start()
        let tap = EncodingTap(destination: destination, format: .wav, settings: EncoderSettings(), tags: Tags(),
                              mode: .backpressure, queue: queue, maximumLag: 0.3) { outcomes.add($0) }
        for _ in 0..<40 { await tap.feedWaiting(chunk, format: format) }
        tap.finishInput(format: format)
        tap.commit()
        queue.drain()
        guard case .saved(let path)? = outcomes.all.first else { return XCTFail("not saved: \(outcomes.all)") }
        XCTAssertEqual(path, "slow")
        XCTAssertEqual(destination.bytes, 44 + 40 * chunk.count * 2)
    }

    func testDiscardReportsOnceAndOnlyWithAReason() throws {
        let outcomes = Outcomes()
        let queue = try EncoderThread.start()
        let silent = EncodingTap(destination: SlowDestination(delay: 0), format: .wav, settings: EncoderSettings(),
                                 tags: Tags(), mode: .dropOnLag, queue: queue) { outcomes.add($0) }
        silent.feed(chunk, format: format)
        silent.discard(reason: nil)
        let told = EncodingTap(destination: SlowDestination(delay: 0), format: .wav, settings: EncoderSettings(),
                               tags: Tags(), mode: .dropOnLag, queue: queue) { outcomes.add($0) }
        told.feed(chunk, format: format)
        told.discard(reason: "the job cancelled")
        told.commit()
        queue.drain()
        XCTAssertEqual(outcomes.all.count, 1)
        guard case .failed(let reason)? = outcomes.all.first else { return XCTFail() }
        XCTAssertEqual(reason, "the job cancelled")
    }
}
