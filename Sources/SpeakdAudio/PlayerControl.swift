/// A message from the control side to the audio thread, carried as three words on a lock-free SPSC ring (so the
/// audio thread never takes a lock to learn about a stop, a cancel or a pause).
///
/// Threading: a value type; encoded by the control side (under the player's control mutex), decoded by the audio
/// thread.
enum PlayerControl: Equatable {
    /// Samples at positions `from ..< until` are not to be heard; `until == nil` keeps the range open (everything
    /// written from `from` on) until a `closeOpen`. What the device already holds of the range is cut at once, with a
    /// short fade.
    case discard(from: UInt64, until: UInt64?)
    /// As `discard`, for a cut inside speech (a job ended at a mark): the samples just before `from` fade out, so
    /// the cut makes no click.
    case discardFadingOut(from: UInt64, until: UInt64?)
    /// Ends open discard ranges at `until` (the producer's write position once it has stopped writing).
    case closeOpen(until: UInt64)
    /// Fade out and hold the read position at the first sample not heard.
    case pause
    /// Fade in from where `pause` stopped.
    case resume

    static let wordCount = 3

    var words: (UInt64, UInt64, UInt64) {
        switch self {
        case .discard(let from, let until): (1, from, until ?? .max)
        case .discardFadingOut(let from, let until): (5, from, until ?? .max)
        case .closeOpen(let until): (2, until, 0)
        case .pause: (3, 0, 0)
        case .resume: (4, 0, 0)
        }
    }

    init?(words: (UInt64, UInt64, UInt64)) {
        switch words.0 {
        case 1: self = .discard(from: words.1, until: words.2 == .max ? nil : words.2)
        case 2: self = .closeOpen(until: words.1)
        case 3: self = .pause
        case 4: self = .resume
        case 5: self = .discardFadingOut(from: words.1, until: words.2 == .max ? nil : words.2)
        default: return nil
        }
    }
}

/// Ranges of ring positions to skip, kept by the audio thread in preallocated storage (no allocation on that thread).
///
/// Threading: owned by the audio thread alone.
struct DiscardRanges: ~Copyable {
    private let storage: UnsafeMutableBufferPointer<(from: UInt64, until: UInt64)>
    private(set) var count = 0

    init(capacity: Int) {
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Adds a range. When the table is full (more ranges than jobs the queue keeps in the ring), the range is merged
    /// into its nearest neighbour's end instead: a few extra samples skipped beats an allocation on this thread.
    mutating func insert(from: UInt64, until: UInt64) {
        guard until > from else { return }
        if count < storage.count {
            storage[count] = (from, until)
            count += 1
        } else {
            storage[count - 1].until = max(storage[count - 1].until, until)
            storage[count - 1].from = min(storage[count - 1].from, from)
        }
    }

    mutating func closeOpen(at until: UInt64) {
        for index in 0..<count where storage[index].until == .max {
            storage[index].until = max(until, storage[index].from)
        }
    }

    /// Where playback must jump to if `position` is inside a range (the end of the furthest-reaching overlapping
    /// range), else nil.
    func skipTarget(for position: UInt64) -> UInt64? {
        var target: UInt64?
        var probe = position
        var moved = true
        // Ranges may chain (one ends inside the next): follow them.
        while moved {
            moved = false
            for index in 0..<count where storage[index].from <= probe && probe < storage[index].until {
                probe = storage[index].until
                target = probe
                moved = true
            }
        }
        return target
    }

    func contains(_ position: UInt64) -> Bool { skipTarget(for: position) != nil }

    /// Samples from `position` to the start of the next range after it (`Int.max` if none).
    func distanceToNextRange(from position: UInt64) -> Int {
        var nearest = UInt64.max
        for index in 0..<count where storage[index].from > position {
            nearest = min(nearest, storage[index].from)
        }
        return nearest == .max ? .max : Int(min(nearest - position, UInt64(Int.max)))
    }

    /// Forgets ranges that end at or before `position`: playback has passed them.
    mutating func removePassed(before position: UInt64) {
        var index = 0
        while index < count {
            if storage[index].until <= position {
                storage[index] = storage[count - 1]
                count -= 1
            } else {
                index += 1
            }
        }
    }
}
