import XCTest
@testable import SpeakdAudio
#if canImport(Glibc)
import Glibc
#endif

final class SPSCRingBufferTests: XCTestCase {
    func testCapacityRoundsUpToPowerOfTwo() {
        XCTAssertEqual(SPSCRingBuffer<Int16>(minimumCapacity: 5, zero: 0).capacity, 8)
        XCTAssertEqual(SPSCRingBuffer<Int16>(minimumCapacity: 8, zero: 0).capacity, 8)
    }

    func testEmptyThenFull() {
        let ring = SPSCRingBuffer<Int16>(minimumCapacity: 8, zero: 0)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        XCTAssertEqual(consumer.availableToRead(), 0)
        XCTAssertTrue(consumer.readableRegion().isEmpty)
        let values: [Int16] = Array(1...10)
        let written = values.withUnsafeBufferPointer { producer.write($0) }
        XCTAssertEqual(written, 8, "a full ring takes no more")
        XCTAssertEqual(producer.availableToWrite(), 0)
        XCTAssertEqual([Int16](10...10).withUnsafeBufferPointer { producer.write($0) }, 0)
        var out = [Int16](repeating: 0, count: 10)
        let read = out.withUnsafeMutableBufferPointer { consumer.read(into: $0) }
        XCTAssertEqual(read, 8)
        XCTAssertEqual(Array(out[0..<8]), Array(values[0..<8]))
        XCTAssertEqual(consumer.availableToRead(), 0)
        XCTAssertEqual(producer.availableToWrite(), 8)
    }

    func testWraparoundKeepsOrderAndSplitsRegions() {
        let ring = SPSCRingBuffer<Int16>(minimumCapacity: 8, zero: 0)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var next: Int16 = 0
        var expected: Int16 = 0
        for round in 0..<100 {
            let chunk = (0..<(round % 7 + 1)).map { _ -> Int16 in defer { next &+= 1 }; return next }
            let written = chunk.withUnsafeBufferPointer { producer.write($0) }
            next = chunk.first.map { $0 &+ Int16(written) } ?? next
            // Read in two steps to exercise the split at the end of storage.
            while true {
                let region = consumer.readableRegion(limit: 3)
                if region.isEmpty { break }
                XCTAssertLessThanOrEqual(Int(region.baseAddress! - UnsafePointer(ring.storageForTesting)) + region.count, ring.capacity)
                for value in region { XCTAssertEqual(value, expected); expected &+= 1 }
                consumer.consume(region.count)
            }
        }
        XCTAssertEqual(ring.readPosition, ring.writePosition)
        XCTAssertGreaterThan(ring.writePosition, UInt64(ring.capacity * 10), "positions run past the capacity many times")
    }

    func testDiscardUpToPosition() {
        let ring = SPSCRingBuffer<Int16>(minimumCapacity: 16, zero: 0)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        _ = [Int16](0..<10).withUnsafeBufferPointer { producer.write($0) }
        XCTAssertEqual(consumer.discard(upTo: 4), 4)
        XCTAssertEqual(consumer.readableRegion().first, 4)
        XCTAssertEqual(consumer.discard(upTo: .max), 6, "never past what was written")
        XCTAssertEqual(consumer.position, 10)
        XCTAssertEqual(consumer.discard(upTo: 3), 0, "never backwards")
    }

    func testRewindReturnsToConsumedSamplesWithinTheReserve() {
        let ring = SPSCRingBuffer<Int16>(minimumCapacity: 8, rewindReserve: 4, zero: 0)
        XCTAssertEqual(ring.capacity, 16)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        XCTAssertEqual([Int16](0..<20).withUnsafeBufferPointer { producer.write($0) }, 12, "the reserve is not writable")
        var out = [Int16](repeating: 0, count: 6)
        _ = out.withUnsafeMutableBufferPointer { consumer.read(into: $0) }
        // The producer fills up again, but leaves the last 4 consumed samples alone.
        XCTAssertEqual([Int16](12..<20).withUnsafeBufferPointer { producer.write($0) }, 6)
        XCTAssertEqual(consumer.oldestRewindable, 2)
        XCTAssertEqual(consumer.rewind(to: 0), 2, "clamped to the reserve")
        var again = [Int16](repeating: 0, count: 4)
        _ = again.withUnsafeMutableBufferPointer { consumer.read(into: $0) }
        XCTAssertEqual(again, [2, 3, 4, 5])
        // A second rewind is measured from the furthest point read, not from the rewound one.
        XCTAssertEqual(consumer.rewind(to: 1), 2)
        var peeked = [Int16](repeating: 0, count: 3)
        XCTAssertEqual(peeked.withUnsafeMutableBufferPointer { consumer.peek(at: 3, into: $0) }, 3)
        XCTAssertEqual(peeked, [3, 4, 5])
        XCTAssertEqual(consumer.position, 2, "peek does not move the read position")
    }

    /// Two threads, 20 million samples through a small ring in random-sized bites; every sample arrives once, in order.
    /// Also run under `swift test --sanitize=thread` by .ci/run.
    func testTwoThreadStressKeepsSequence() throws {
        let total = 20_000_000
        let ring = SPSCRingBuffer<Int16>(minimumCapacity: 1024, zero: 0)
        let producerHandle = ring.makeProducer()
        let box = ProducerBox(producerHandle)
        let producerThread = try startThread {
            var producer = box.take()
            var buffer = [Int16](repeating: 0, count: 700)
            var sent = 0
            var seed: UInt32 = 12345
            while sent < total {
                seed = seed &* 1_103_515_245 &+ 12345
                let want = min(Int(seed >> 16) % 700 + 1, total - sent)
                for index in 0..<want { buffer[index] = Int16(truncatingIfNeeded: sent + index) }
                var offset = 0
                while offset < want {
                    let written = buffer.withUnsafeBufferPointer { producer.write(UnsafeBufferPointer(rebasing: $0[offset..<want])) }
                    offset += written
                    if written == 0 { sched_yield() }
                }
                sent += want
            }
        }
        var consumer = ring.makeConsumer()
        var received = 0
        var mismatches = 0
        var seed: UInt32 = 999
        while received < total {
            seed = seed &* 1_103_515_245 &+ 12345
            let region = consumer.readableRegion(limit: Int(seed >> 16) % 900 + 1)
            if region.isEmpty { sched_yield(); continue }
            for (index, value) in region.enumerated() where value != Int16(truncatingIfNeeded: received + index) {
                mismatches += 1
            }
            received += region.count
            consumer.consume(region.count)
        }
        pthread_join(producerThread, nil)
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(received, total)
        XCTAssertEqual(ring.writePosition, UInt64(total))
    }
}

/// Moves the noncopyable producer into the other thread.
private final class ProducerBox: @unchecked Sendable {
    private var producer: SPSCRingBuffer<Int16>.Producer?
    init(_ producer: consuming SPSCRingBuffer<Int16>.Producer) { self.producer = consume producer }
    func take() -> SPSCRingBuffer<Int16>.Producer { producer.take()! }
}

private final class ThreadBody { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }

func startThread(_ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { (raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    guard rc == 0 else { throw POSIXErrorCode(rawValue: rc).map { POSIXError($0) } ?? POSIXError(.EINVAL) }
    return thread
}
