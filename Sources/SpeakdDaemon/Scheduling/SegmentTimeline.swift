import SpeakdCore
import Synchronization

/// When each segment of a job was asked for, arrived and began to play, and how much audio was ahead of it then:
/// what a log needs to say why the device ran dry (a request launched late, a server slower than planned, a long wait
/// between two of its chunks) instead of only that it did.
///
/// Threading: Sendable; the writer task records, the queue's actor reads (one mutex, held briefly).
final class SegmentTimeline: Sendable {
    /// How a segment's audio arrived from its engine (kept by its `SegmentFeed` while it runs), in monotonic seconds.
    struct Arrival: Equatable {
        var requestedAt = 0.0
        var firstAudioAt: Double?
        var doneAt: Double?
        var chunks = 0
        var audioSeconds = 0.0
        /// The longest wall-clock wait between two of its chunks, in seconds.
        var longestChunkWait = 0.0
    }

    struct Entry: Equatable {
        var index: Int
        var characters: Int
        var arrival = Arrival()
        /// Its first sample's ring position, and when it was written with how many seconds of audio ahead of it.
        var startPosition: UInt64?
        var writtenAt: Double?
        var aheadSeconds = 0.0
        /// Seconds it was held back before playing, buffering so that it plays through (pacing).
        var heldSeconds = 0.0
        /// Seconds the device stood silent before its first sample because the audio before it had played out: the
        /// pause between it and the segment before.
        var pauseBefore = 0.0
        /// Pauses inside it: the device stood silent at a silence in its audio, waiting for the upstream's next chunk.
        var pausesWithin: [Double] = []

        /// Every pause a listener heard at or in this segment, in seconds.
        var audiblePauses: [Double] {
            (pauseBefore >= UpstreamPerformance.audiblePauseSeconds ? [pauseBefore] : []) + pausesWithin
        }
    }

    private let began: Double
    private let entries = Mutex<[Entry]>([])

    init(began: Double = monotonicSeconds()) {
        self.began = began
    }

    var all: [Entry] { entries.withLock { $0 } }

    /// Adds or replaces the entry of `entry.index` (a segment spoken again by the fallback replaces its first try).
    func record(_ entry: Entry) {
        entries.withLock { entries in
            entries.removeAll { $0.index == entry.index }
            entries.append(entry)
        }
    }

    /// The segment whose audio holds ring position `position`, if any of this job's did.
    func segment(at position: UInt64) -> Int? { Self.segment(at: position, in: all)?.index }

    private static func segment(at position: UInt64, in entries: [Entry]) -> Entry? {
        entries.compactMap { entry in entry.startPosition.map { (entry, $0) } }
            .filter { $0.1 <= position }.max { $0.1 < $1.1 }?.0
    }

    /// One line per segment, times in seconds from the job's start: `segment 0 (57 characters): requested +0.0,
    /// audio +1.31…1.31 (1 chunks, 3.8 s, longest wait 0.0 s), written +1.32 with 0.0 s ahead, held 0.0 s, pause before 0.0 s, pauses within [] s`.
    func description(ranDryAt position: UInt64?) -> String {
        let entries = all
        let dry = position.flatMap { Self.segment(at: $0, in: entries) }
        let late = dry != nil && dry?.startPosition == position
        func seconds(_ value: Double) -> String { "\((value * 100).rounded() / 100)" }
        func at(_ time: Double?) -> String { time.map { "+" + seconds($0 - began) } ?? "never" }
        return entries.sorted { $0.index < $1.index }.map { entry in
            let line = "segment \(entry.index) (\(entry.characters) characters): requested \(at(entry.arrival.requestedAt)), "
                + "audio \(at(entry.arrival.firstAudioAt))…\(at(entry.arrival.doneAt)) (\(entry.arrival.chunks) chunks, \(seconds(entry.arrival.audioSeconds)) s, "
                + "longest wait \(seconds(entry.arrival.longestChunkWait)) s), written \(at(entry.writtenAt)) with "
                + "\(seconds(entry.aheadSeconds)) s ahead, held \(seconds(entry.heldSeconds)) s, "
                + "pause before \(seconds(entry.pauseBefore)) s, pauses within [\(entry.pausesWithin.map(seconds).joined(separator: ", "))] s"
            guard entry.index == dry?.index else { return line }
            return line + (late ? " <- the device ran dry before it (it came late)" : " <- the device ran dry inside it")
        }.joined(separator: "; ")
    }
}

extension SegmentTimeline.Entry {
    /// The entry with what its feed saw: when it was asked for, its chunks and when they came.
    func completed(by progress: SegmentFeed.Progress) -> Self {
        var entry = self
        entry.arrival = progress.arrival
        return entry
    }
}
