import SpeakdCore

/// A job's volume: linear gain (0…2 from the protocol, clamped to 0…8), saturating at full scale instead of
/// wrapping. Stateless; works in place, so it allocates nothing when the caller's buffer is its own.
///
/// Threading: not Sendable by contract of `AudioFilter` (one task at a time), though it holds no state but `gain`.
public final class Gain: AudioFilter {
    public let gain: Double

    public init(_ gain: Double) {
        self.gain = gain
    }

    /// Whether the filter leaves samples as they are (a chain can leave it out).
    public var isIdentity: Bool { gain == 1 }

    /// Never throws: any format is fine.
    public func process(_ samples: inout [Int16], format: PCMFormat) {
        guard !isIdentity else { return }
        samples.withUnsafeMutableBufferPointer { SampleMath.applyGain(gain, to: $0) }
    }

    /// Nothing is held.
    public func flush() -> [Int16] { [] }
}
