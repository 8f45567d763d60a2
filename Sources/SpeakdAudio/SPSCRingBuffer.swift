import Synchronization

/// A lock-free, wait-free single-producer / single-consumer ring of plain values (PCM samples).
///
/// Positions are monotonically increasing 64-bit counters (they never wrap in practice: 2^64 samples at 24 kHz is
/// 24 million years), so "how much is readable" is `write - read` with no ambiguity between full and empty, and a
/// position can name a sample for ever (used for job start/end marks). Storage index is `position & mask`.
///
/// Memory ordering (the only synchronisation there is):
/// - the producer copies samples into storage, then stores `writePosition` with *release*; the consumer loads it with
///   *acquire*, so the samples are visible before the consumer can see them counted;
/// - the consumer reads samples out, then stores `readPosition` with *release*; the producer loads it with *acquire*,
///   so it never overwrites a slot the consumer may still be reading.
/// Each side loads its own position *relaxed* (only it writes it) and caches the other side's last value, loading
/// it again only when the cache says there is no room / no data (rtrb's trick: fewer cache-line transfers).
///
/// A *rewind reserve* keeps the newest `rewindReserve` consumed samples intact (the producer treats them as still
/// occupied), so the consumer can step back over samples it handed to a device that then dropped them: pause and
/// resume continue at the exact sample that was heard last.
///
/// Threading: the ring itself is shared. Exactly one `Producer` and one `Consumer` exist for a ring (enforced at run
/// time), each noncopyable, each to be used by one thread at a time. `position` reads are safe from any thread.
public final class SPSCRingBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    public let capacity: Int
    /// Consumed samples the producer leaves untouched, so `Consumer.rewind` can return to them.
    public let rewindReserve: Int
    private let mask: UInt64
    private let storage: UnsafeMutablePointer<Element>
    var storageForTesting: UnsafeMutablePointer<Element> { storage }
    // Separate cache lines for the two indices, so the producer's stores do not invalidate the consumer's line.
    private let writePositionBox = PaddedAtomic()
    private let readPositionBox = PaddedAtomic()
    private let producerTaken = Atomic<Bool>(false)
    private let consumerTaken = Atomic<Bool>(false)

    /// - Parameters:
    ///   - minimumCapacity: writable samples; the storage is this plus `rewindReserve`, rounded up to a power of two.
    ///   - rewindReserve: consumed samples kept for `Consumer.rewind`.
    public init(minimumCapacity: Int, rewindReserve: Int = 0, zero: Element) {
        precondition(minimumCapacity > 0 && minimumCapacity <= 1 << 40, "ring capacity out of range")
        precondition(rewindReserve >= 0 && rewindReserve <= 1 << 40, "rewind reserve out of range")
        var capacity = 1
        while capacity < minimumCapacity + rewindReserve { capacity <<= 1 }
        self.capacity = capacity
        self.rewindReserve = rewindReserve
        self.mask = UInt64(capacity - 1)
        self.storage = .allocate(capacity: capacity)
        storage.initialize(repeating: zero, count: capacity)
    }

    deinit {
        storage.deallocate()
    }

    /// Samples the producer may have outstanding: the storage minus the rewind reserve.
    var writableCapacity: Int { capacity - rewindReserve }

    /// Total samples ever written. Any thread; acquire.
    public var writePosition: UInt64 { writePositionBox.value.load(ordering: .acquiring) }
    /// Total samples ever consumed. Any thread; acquire.
    public var readPosition: UInt64 { readPositionBox.value.load(ordering: .acquiring) }

    /// The one producer of this ring. Traps if called twice.
    public func makeProducer() -> Producer {
        precondition(!producerTaken.exchange(true, ordering: .acquiringAndReleasing), "a ring has exactly one producer")
        return Producer(ring: self)
    }

    /// The one consumer of this ring. Traps if called twice.
    public func makeConsumer() -> Consumer {
        precondition(!consumerTaken.exchange(true, ordering: .acquiringAndReleasing), "a ring has exactly one consumer")
        return Consumer(ring: self)
    }

    /// The writing end. Noncopyable so that it cannot be duplicated by accident; `Sendable` so it can move to the
    /// thread or task that produces.
    public struct Producer: ~Copyable, @unchecked Sendable {
        public let ring: SPSCRingBuffer
        private var cachedRead: UInt64 = 0

        init(ring: SPSCRingBuffer) { self.ring = ring }

        /// Samples that can be written now without overwriting unread ones.
        public mutating func availableToWrite() -> Int {
            let write = ring.writePositionBox.value.load(ordering: .relaxed)
            cachedRead = ring.readPositionBox.value.load(ordering: .acquiring)
            return ring.writableCapacity - Int(write &- cachedRead)
        }

        /// Copies as many samples as fit; returns how many were written (0 when full). Never blocks or allocates.
        @discardableResult
        public mutating func write(_ samples: UnsafeBufferPointer<Element>) -> Int {
            guard let base = samples.baseAddress, !samples.isEmpty else { return 0 }
            let write = ring.writePositionBox.value.load(ordering: .relaxed)
            var free = ring.writableCapacity - Int(write &- cachedRead)
            if free < samples.count {
                cachedRead = ring.readPositionBox.value.load(ordering: .acquiring)
                free = ring.writableCapacity - Int(write &- cachedRead)
            }
            // A rewind may have moved the read position back below the cached one by at most the reserve, and the
            // reserve is exactly what this bound keeps free: stale caches stay safe.
            let count = min(max(free, 0), samples.count)
            guard count > 0 else { return 0 }
            let start = Int(write & ring.mask)
            let first = min(count, ring.capacity - start)
            (ring.storage + start).update(from: base, count: first)
            if count > first {
                ring.storage.update(from: base + first, count: count - first)
            }
            ring.writePositionBox.value.store(write &+ UInt64(count), ordering: .releasing)
            return count
        }

        /// Position the next written sample will have.
        public var position: UInt64 { ring.writePositionBox.value.load(ordering: .relaxed) }
    }

    /// The reading end; meant for the audio thread. Noncopyable, `Sendable` to move onto that thread.
    public struct Consumer: ~Copyable, @unchecked Sendable {
        public let ring: SPSCRingBuffer
        private var cachedWrite: UInt64 = 0
        /// The furthest the read position has ever been: the reserve is measured back from here, not from a
        /// rewound position (two rewinds in a row must not reach past the reserve).
        private var highWater: UInt64 = 0

        init(ring: SPSCRingBuffer) { self.ring = ring }

        /// Position of the next sample to be read.
        public var position: UInt64 { ring.readPositionBox.value.load(ordering: .relaxed) }

        /// Samples ready to read.
        public mutating func availableToRead() -> Int {
            cachedWrite = ring.writePositionBox.value.load(ordering: .acquiring)
            return Int(cachedWrite &- ring.readPositionBox.value.load(ordering: .relaxed))
        }

        /// The longest contiguous run of readable samples, straight from storage (zero copy), at most `limit` long.
        /// Valid until `consume` is called. Empty when nothing is readable.
        public mutating func readableRegion(limit: Int = .max) -> UnsafeBufferPointer<Element> {
            let read = ring.readPositionBox.value.load(ordering: .relaxed)
            var available = Int(cachedWrite &- read)
            if available == 0 {
                cachedWrite = ring.writePositionBox.value.load(ordering: .acquiring)
                available = Int(cachedWrite &- read)
            }
            let start = Int(read & ring.mask)
            let count = min(available, ring.capacity - start, limit)
            return UnsafeBufferPointer(start: ring.storage + start, count: max(count, 0))
        }

        /// Releases `count` samples (after reading them from `readableRegion`) back to the producer.
        public mutating func consume(_ count: Int) {
            let read = ring.readPositionBox.value.load(ordering: .relaxed)
            precondition(count >= 0 && read &+ UInt64(count) <= ring.writePositionBox.value.load(ordering: .acquiring), "consumed more than was written")
            ring.readPositionBox.value.store(read &+ UInt64(count), ordering: .releasing)
            highWater = max(highWater, read &+ UInt64(count))
        }

        /// Copies up to `destination.count` samples out; returns how many.
        public mutating func read(into destination: UnsafeMutableBufferPointer<Element>) -> Int {
            guard let base = destination.baseAddress else { return 0 }
            var copied = 0
            while copied < destination.count {
                let region = readableRegion(limit: destination.count - copied)
                guard let source = region.baseAddress, !region.isEmpty else { break }
                (base + copied).update(from: source, count: region.count)
                consume(region.count)
                copied += region.count
            }
            return copied
        }

        /// Drops readable samples up to `position` (or all readable ones, if fewer were written). Returns how many.
        @discardableResult
        public mutating func discard(upTo position: UInt64) -> Int {
            let read = ring.readPositionBox.value.load(ordering: .relaxed)
            cachedWrite = ring.writePositionBox.value.load(ordering: .acquiring)
            let target = min(position, cachedWrite)
            guard target > read else { return 0 }
            ring.readPositionBox.value.store(target, ordering: .releasing)
            highWater = max(highWater, target)
            return Int(target - read)
        }

        /// The oldest position `rewind` can return to.
        public var oldestRewindable: UInt64 {
            highWater >= UInt64(ring.rewindReserve) ? highWater - UInt64(ring.rewindReserve) : 0
        }

        /// Moves the read position back to `position` (clamped to `oldestRewindable`), so consumed samples are read
        /// again. Returns the position actually reached. Moving forward is `discard`'s job; a later position is ignored.
        @discardableResult
        public mutating func rewind(to position: UInt64) -> UInt64 {
            let read = ring.readPositionBox.value.load(ordering: .relaxed)
            let target = max(position, oldestRewindable)
            guard target < read else { return read }
            ring.readPositionBox.value.store(target, ordering: .releasing)
            return target
        }

        /// Copies samples at `position ..< position + destination.count` (which must lie between `oldestRewindable`
        /// and the write position) without moving the read position. Returns how many were copied.
        public mutating func peek(at position: UInt64, into destination: UnsafeMutableBufferPointer<Element>) -> Int {
            guard let base = destination.baseAddress, position >= oldestRewindable else { return 0 }
            cachedWrite = ring.writePositionBox.value.load(ordering: .acquiring)
            guard cachedWrite > position else { return 0 }
            let count = min(destination.count, Int(cachedWrite - position))
            for index in 0..<count {
                base[index] = ring.storage[Int((position &+ UInt64(index)) & ring.mask)]
            }
            return count
        }
    }
}

/// An atomic counter alone on its cache line (128 bytes covers adjacent-line prefetch on x86).
final class PaddedAtomic: Sendable {
    private let padBefore = InlineArray<16, UInt64>(repeating: 0)
    let value = Atomic<UInt64>(0)
    private let padAfter = InlineArray<15, UInt64>(repeating: 0)
}
