import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The loudness every job is brought to: integrated loudness in LUFS and a true-peak ceiling in dBTP. -16 LUFS is
/// what speech on phones and smart speakers is mastered to (AES TD1004 for streaming; podcasts); -1 dBTP leaves room
/// for lossy codecs and cheap DACs.
public struct LoudnessTarget: Sendable, Hashable {
    public var integrated = -16.0
    public var truePeak = -1.0
    public init() {}
    public init(integrated: Double, truePeak: Double) {
        self.integrated = integrated
        self.truePeak = truePeak
    }
}

/// What each voice measured (integrated loudness of its recent jobs, before any gain), so that a job starts at the
/// right gain instead of learning it while the listener hears it. Keyed by engine or upstream and voice; persisted
/// as JSON in the state directory beside the upstream's learned pace.
///
/// Threading: Sendable; any task may call it (one mutex, held briefly).
final class LearnedLoudness: Sendable {
    let target: LoudnessTarget
    private let path: String?
    /// What a voice measured: its integrated loudness before any gain (LUFS), and what the limiter took away at the
    /// target (dB).
    struct Voice: Codable, Equatable {
        var loudness: Double
        var limiterLoss: Double
    }
    private let measured: Mutex<[String: Voice]>
    /// How much a new job's measurement moves the learned value: voices are consistent, texts vary a little.
    static let weight = 0.5

    init(target: LoudnessTarget, path: String?) {
        self.target = target
        self.path = path
        var loaded: [String: Voice] = [:]
        if let path, let data = FileManager.default.contents(atPath: path),
           let decoded = try? JSONDecoder().decode([String: Voice].self, from: data) {
            loaded = decoded.filter { Self.plausible($0.value) }
        }
        measured = Mutex(loaded)
    }

    static func key(source: String, voice: String) -> String { "\(source)/\(voice)" }

    private static func plausible(_ voice: Voice) -> Bool {
        voice.loudness.isFinite && (-70.0...0.0).contains(voice.loudness) && voice.limiterLoss.isFinite
            && (0.0...20.0).contains(voice.limiterLoss)
    }

    /// What the voice measured before, nil before its first job.
    func voice(_ key: String) -> Voice? { measured.withLock { $0[key] } }

    /// Records what a job measured (at least a second of speech) and saves.
    func record(_ voice: Voice, for key: String) {
        guard Self.plausible(voice) else { return }
        let snapshot = measured.withLock { table -> [String: Voice] in
            if let old = table[key] {
                table[key] = Voice(loudness: old.loudness + (voice.loudness - old.loudness) * Self.weight,
                                   limiterLoss: old.limiterLoss + (voice.limiterLoss - old.limiterLoss) * Self.weight)
            } else {
                table[key] = voice
            }
            return table
        }
        guard let path, let data = try? JSONEncoder().encode(snapshot) else { return }
        StateFile.replace(path, with: data)
    }

    /// `loudness.json` in the state directory (`StateFile.directory`).
    static func defaultPath() -> String? {
        StateFile.directory().map { $0 + "/loudness.json" }
    }
}
