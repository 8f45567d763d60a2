import SpeakdCore

/// Maps frames to another channel count: mono to N channels (the sample copied to each), N channels to mono (their
/// average, rounded), the same count unchanged. Other mappings (stereo to 5.1) throw `.unsupportedFormat`: speech
/// comes mono or stereo, and devices take one of the two.
///
/// Threading: one task at a time (see `AudioFilter`). Allocation: none in the steady state; the output is built in a
/// second buffer that is swapped with the caller's, so both keep their capacity for the next chunk.
public final class ChannelMap: AudioFilter {
    public let channels: Int
    private var spare: [Int16] = []

    /// - Parameter channels: the output's channel count, 1…8.
    public init(channels: Int) {
        precondition((1...8).contains(channels), "channel count \(channels) out of 1…8")
        self.channels = channels
    }

    public func outputFormat(for format: PCMFormat) -> PCMFormat {
        PCMFormat(sampleRate: format.sampleRate, channels: channels)
    }

    /// Throws `.unsupportedFormat` for a mapping between two counts that are both above one.
    public func process(_ samples: inout [Int16], format: PCMFormat) throws(AudioFilterError) {
        let from = max(format.channels, 1)
        guard from != channels else { return }
        guard from == 1 || channels == 1 else {
            throw AudioFilterError(.unsupportedFormat, "cannot map \(from) channels to \(channels)")
        }
        let frames = samples.count / from
        let needed = frames * channels
        if spare.count < needed { spare.append(contentsOf: repeatElement(0, count: needed - spare.count)) }
        let target = channels
        samples.withUnsafeBufferPointer { input in
            spare.withUnsafeMutableBufferPointer { output in
                if from == 1 {
                    for frame in 0..<frames {
                        for channel in 0..<target { output[frame * target + channel] = input[frame] }
                    }
                } else {
                    for frame in 0..<frames {
                        var sum = 0
                        for channel in 0..<from { sum += Int(input[frame * from + channel]) }
                        output[frame] = Int16((Double(sum) / Double(from)).rounded())
                    }
                }
            }
        }
        swap(&samples, &spare)
        samples.removeLast(samples.count - needed)
    }

    /// Nothing is held.
    public func flush() -> [Int16] { [] }
}
