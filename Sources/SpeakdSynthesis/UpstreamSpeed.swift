import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What one upstream does with `speed`, learned during the daemon's life or configured: the range it accepts, and
/// whether it honours speed at all.
///
/// Learning: a 4xx that names speed narrows the range (`learn`); a server that ignores speed is found by duration
/// (`observe`): per model and voice it keeps seconds of audio per character at each speed asked for, and when audio
/// asked for at speed s is as long as at a speed s₀ at least 1.5× away (closer to the s₀ rate than to the s₀ rate
/// scaled by s₀/s), the server ignores speed, and from then on is asked at its default (range 1…1).
///
/// Threading: Sendable; every method may be called from any task (state behind a mutex, never held across a call out).
public final class UpstreamSpeed: Sendable {
    /// What the OpenAI contract allows, and so what is assumed until the upstream says otherwise.
    public static let contractRange: ClosedRange<Double> = 0.25...4.0
    /// The range of a server that takes no speed but its default.
    public static let ignoresSpeed: ClosedRange<Double> = 1.0...1.0

    /// Texts shorter than this say little about a speaking rate (leading and trailing silence dominate).
    static let minimumObservedCharacters = 20
    /// Two speeds this far apart (as a ratio) make their durations distinguishable through sentence-to-sentence
    /// noise: the decision is at the geometric middle (≥ 22 % apart), and a wrong "ignores" costs only quality (the
    /// whole speed is then stretched locally, still at the right length), a missed one costs the length.
    static let distinguishableRatio = 1.5

    public enum Origin: String, Sendable { case assumed, configured, refusal, duration }

    private struct Rate { var seconds = 0.0; var characters = 0 }
    private struct State {
        var range: ClosedRange<Double>
        var origin: Origin
        /// Per "model voice", per speed asked for (in hundredths): accumulated audio and text.
        var rates: [String: [Int: Rate]] = [:]
    }

    private let state: Mutex<State>

    /// `configured` fixes the range (never learned over); nil assumes the contract's range until told otherwise.
    public init(configured: ClosedRange<Double>? = nil) {
        state = Mutex(State(range: configured ?? Self.contractRange, origin: configured == nil ? .assumed : .configured))
    }

    public var range: ClosedRange<Double> { state.withLock { $0.range } }
    public var origin: Origin { state.withLock { $0.origin } }

    /// The speed to ask the upstream for when `wanted` is what the listener wants: `wanted` within the range,
    /// else the nearest end of it. Nil when the upstream takes no speed at all (send none: its default).
    public func upstreamSpeed(for wanted: Double) -> Double? {
        let range = range
        if range == Self.ignoresSpeed { return nil }
        return min(max(wanted, range.lowerBound), range.upperBound)
    }

    /// Narrows the range by a refusal of `asked`. Returns whether the next request will ask for something else
    /// (false: nothing new was learned, the refusal stands).
    @discardableResult
    public func learn(_ refusal: SpeedRefusal, asked: Double?) -> Bool {
        state.withLock { state in
            guard state.origin != .configured, let asked else { return false }
            var lower = state.range.lowerBound, upper = state.range.upperBound
            if let minimum = refusal.minimum { lower = max(lower, minimum) }
            if let maximum = refusal.maximum { upper = min(upper, maximum) }
            var range = lower <= upper ? lower...upper : Self.ignoresSpeed
            // Refused without bounds, or within the bounds it states: the server takes no speed but its default.
            if refusal.minimum == nil && refusal.maximum == nil || range.contains(asked) { range = Self.ignoresSpeed }
            guard range != state.range else { return false }
            state.range = range
            state.origin = .refusal
            return true
        }
    }

    /// Records that `characters` of text asked for at `asked` (nil: the server's default) gave `seconds` of audio.
    /// Returns true when this shows, for the first time, that the server ignores speed.
    @discardableResult
    public func observe(model: String, voice: String, characters: Int, asked: Double?, seconds: Double) -> Bool {
        guard characters >= Self.minimumObservedCharacters, seconds > 0 else { return false }
        let speed = asked ?? 1.0
        let key = "\(model) \(voice)"
        let bucket = Int((speed * 100).rounded())
        let rate = seconds / Double(characters)
        return state.withLock { state in
            guard state.origin == .assumed || state.origin == .refusal else { return false }
            var ignored = false
            for (otherBucket, other) in state.rates[key] ?? [:] where other.characters > 0 {
                let otherSpeed = Double(otherBucket) / 100
                let ratio = speed / otherSpeed
                guard ratio >= Self.distinguishableRatio || ratio <= 1 / Self.distinguishableRatio else { continue }
                let otherRate = other.seconds / Double(other.characters)
                let ifIgnored = otherRate, ifHonoured = otherRate * otherSpeed / speed
                if abs(log(rate / ifIgnored)) < abs(log(rate / ifHonoured)) { ignored = true }
            }
            if ignored {
                state.range = Self.ignoresSpeed
                state.origin = .duration
                state.rates[key] = nil
                return true
            }
            state.rates[key, default: [:]][bucket, default: Rate()].seconds += seconds
            state.rates[key, default: [:]][bucket, default: Rate()].characters += characters
            return false
        }
    }
}
