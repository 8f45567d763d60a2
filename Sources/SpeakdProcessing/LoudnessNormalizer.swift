import SpeakdCore
#if canImport(Glibc)
import Glibc
#endif

/// Brings a job's speech to a loudness target (LUFS) under a true-peak ceiling, so that every voice — upstream or
/// the fallback — is heard at the same level.
///
/// Speech streams: its integrated loudness is unknown when it starts. The gain starts from what this voice measured
/// before (`startingLoudness`, learned by the caller) and is decided again from what this job has measured so far
/// only where a change cannot be heard: in a pause of `pauseSeconds` (as between sentences) or at the end of a
/// segment. Never inside a sentence, so there is no pumping.
/// The `PeakLimiter` after the gain keeps raised peaks under the ceiling. The meter reads the input before the gain.
///
/// Units: interleaved s16, whole frames; loudness in LUFS, gains and ceiling in dB.
///
/// Threading: not Sendable; one task at a time (the job's writer), see `AudioFilter`.
public final class LoudnessNormalizer: AudioFilter {
    public let target: Double
    /// What a voice is assumed to measure before anything is known of it (speech engines land between -24 and -18).
    public static let assumedLoudness = -20.0
    /// The gain never goes beyond ±`maximumGain` dB: a whisper stays a whisper rather than raising noise by 40 dB.
    public static let maximumGain = 20.0

    /// The limiter takes at most this much loudness away before the gain makes up for it (more would mean raising a
    /// voice into constant limiting).
    public static let maximumMakeUp = 3.0

    public private(set) var gain: Double
    private let limiter: PeakLimiter
    private var meter: LoudnessMeter?

    /// - Parameters:
    ///   - startingLoudness: what this voice measured before (LUFS, before any gain), nil if unknown.
    ///   - startingLimiterLoss: how much loudness the limiter took from this voice before (dB).
    public init(target: Double, ceiling: Double, startingLoudness: Double?, startingLimiterLoss: Double = 0) {
        self.target = target
        limiter = PeakLimiter(ceiling: ceiling)
        gain = Self.gain(toReach: target, from: startingLoudness ?? Self.assumedLoudness, limiterLoss: startingLimiterLoss)
    }

    /// The job's integrated loudness so far, before the gain (nil until 400 ms of sound).
    public var measuredLoudness: Double? { measure(); return meter?.integratedLoudness }
    /// Seconds of audio measured in this job.
    public var measuredSeconds: Double { measure(); return meter?.seconds ?? 0 }
    /// Loudness the limiter took away in this job so far, in LU: its input (after the gain) measured against its
    /// output, both gated as BS.1770 gates them (an energy ratio would under-count: limiting hits the loud, weighted
    /// parts).
    public var limiterLoss: Double {
        measure()
        guard let before = limiterInput?.integratedLoudness, let after = limiterOutput?.integratedLoudness else { return 0 }
        return max(before - after, 0)
    }
    private var limiterInput: LoudnessMeter?
    private var limiterOutput: LoudnessMeter?
    /// Audio processed but not yet measured (`measure`): the meters are fed when a figure is needed (the gain's
    /// revision in a pause, the caller's record) or a second of audio is waiting, not on the way to the first sound —
    /// making them (three libebur128 states) and feeding them took 0.14–0.6 ms of a phrase-cache hit's first sound.
    private var unmeasured: [(format: PCMFormat, input: [Int16], gain: Double, output: [Int16])] = []
    private var unmeasuredFrames = 0
    /// Past this much unmeasured audio `normalize` measures it at once: a caller that never calls `measure` keeps
    /// bounded memory.
    static let unmeasuredLimitSeconds = 1.0

    /// A pause this long (all samples under `quietLevel`) lets the gain change unheard: between sentences, most
    /// engines pause 200 ms or more.
    public static let pauseSeconds = 0.12
    static let quietLevel: Int16 = 64
    /// Frames of the current run of quiet samples, and whether the gain was already revised in it.
    private var quietFrames = 0
    private var revisedInThisPause = false
    /// A segment ended: the gain is revised when the next one begins (after a job's last segment, never: measuring
    /// then would only compete with the job's first sound).
    private var reviseBeforeNext = false

    public func process(_ samples: inout [Int16], format: PCMFormat) throws(AudioFilterError) {
        samples = normalize(samples, format: format)
    }

    /// What `process` does, returning the frames that are ready.
    public func normalize(_ samples: [Int16], format: PCMFormat) -> [Int16] {
        if reviseBeforeNext {
            reviseBeforeNext = false
            revise()
        }
        // Split where a pause has lasted long enough: what follows it is processed at the revised gain.
        let channels = max(format.channels, 1)
        let pause = Int(Self.pauseSeconds * Double(format.sampleRate))
        var output: [Int16] = []
        var start = 0
        var frame = 0
        while frame < samples.count / channels {
            var quiet = true
            for channel in 0..<channels where abs(Int(samples[frame * channels + channel])) > Int(Self.quietLevel) { quiet = false }
            if quiet {
                quietFrames += 1
                if quietFrames >= pause, !revisedInThisPause {
                    revisedInThisPause = true
                    let end = (frame + 1) * channels
                    output += run(Array(samples[start..<end]), format: format)
                    start = end
                    revise()
                }
            } else {
                quietFrames = 0
                revisedInThisPause = false
            }
            frame += 1
        }
        if start < samples.count { output += run(Array(samples[start...]), format: format) }
        if Double(unmeasuredFrames) >= Self.unmeasuredLimitSeconds * Double(format.sampleRate) { measure() }
        return output
    }

    private func run(_ samples: [Int16], format: PCMFormat) -> [Int16] {
        let factor = pow(10, gain / 20)
        limiter.inputGain = Float(factor)
        let output = limiter.limit(samples, format: format)
        unmeasured.append((format, samples, factor, output))
        unmeasuredFrames += samples.count / max(format.channels, 1)
        return output
    }

    /// Feeds the meters what was processed since the last call (the gain's decisions and the figures above call it
    /// first).
    public func measure() {
        for piece in unmeasured {
            if meter?.format != piece.format {
                // Loudness only: the limiter after the gain is what keeps the true peak under the ceiling.
                meter = LoudnessMeter(format: piece.format, truePeak: false)
                limiterInput = LoudnessMeter(format: piece.format, truePeak: false)
                limiterOutput = LoudnessMeter(format: piece.format, truePeak: false)
            }
            meter?.add(piece.input)
            limiterInput?.add(piece.input, gain: piece.gain)
            limiterOutput?.add(piece.output)
        }
        unmeasured.removeAll(keepingCapacity: true)
        unmeasuredFrames = 0
    }

    /// The gain for what follows, from what this job has measured (nothing before 400 ms of sound).
    private func revise() {
        if let measured = measuredLoudness { gain = Self.gain(toReach: target, from: measured, limiterLoss: limiterLoss) }
    }

    /// A sentence ended: what the limiter holds comes out, and the gain for the next sentence will follow what this
    /// job has measured.
    public func endSegment() -> [Int16] {
        let tail = limiter.flush()
        reviseBeforeNext = true
        return tail
    }

    public func flush() -> [Int16] { limiter.flush() }

    static func gain(toReach target: Double, from loudness: Double, limiterLoss: Double) -> Double {
        min(max(target - loudness + min(max(limiterLoss, 0), maximumMakeUp), -maximumGain), maximumGain)
    }
}
