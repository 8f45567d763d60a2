import CSonic
import SpeakdCore

/// Changes the speed of speech by a factor, keeping its pitch: libsonic (the stretcher espeak-ng and Android use
/// for fast speech; pitch-synchronous overlap-add, PICOLA between 1× and 2×), with its default settings for speech.
///
/// `speed` 2 makes audio half as long; 0.5 twice as long. The output keeps the input's format. Sonic holds back at
/// most a few pitch periods (under 40 ms) until more input arrives; `flush` releases them at the end of a segment,
/// so the total length is the input's divided by `speed` (within a pitch period).
///
/// Threading: not Sendable; one task at a time (see `AudioFilter`). The sonic stream is created on the first input
/// and recreated when the format changes.
public final class TimeStretch: AudioFilter {
    public let speed: Double
    private var stream: sonicStream?
    private var format: PCMFormat?

    /// The speeds sonic handles well; beyond them speech stops being speech.
    public static let supportedSpeeds: ClosedRange<Double> = 0.1...8.0

    public init(speed: Double) {
        precondition(Self.supportedSpeeds.contains(speed), "time-stretch speed \(speed) outside \(Self.supportedSpeeds)")
        self.speed = speed
    }

    deinit { if let stream { sonicDestroyStream(stream) } }

    /// The `AudioFilter` form of `process(_:format:) -> [Int16]`. Never throws.
    public func process(_ samples: inout [Int16], format: PCMFormat) {
        samples = process(samples, format: format)
    }

    /// Stretches `samples` (whole frames in `format`) and returns the frames ready; a change of format first flushes
    /// what was held of the previous one (returned ahead of the new audio).
    public func process(_ samples: [Int16], format: PCMFormat) -> [Int16] {
        var held: [Int16] = []
        if format != self.format {
            held = flush()
            open(format)
        }
        guard let stream, !samples.isEmpty else { return held }
        let frames = Int32(samples.count / format.channels)
        var input = samples
        let written = input.withUnsafeMutableBufferPointer { sonicWriteShortToStream(stream, $0.baseAddress, frames) }
        // Sonic fails only when it cannot grow its buffer: nothing sensible is left to do but pass the audio on.
        guard written != 0 else { return held + samples }
        return held + drain()
    }

    /// Never throws: sonic only fails to grow its buffer, and then what it holds is lost, not the stream.
    public func flush() -> [Int16] {
        guard let stream else { return [] }
        sonicFlushStream(stream)
        let rest = drain()
        // A fresh stream: sonic pads a flush with silence it has to forget before unrelated input follows.
        sonicDestroyStream(stream)
        self.stream = nil
        if let format { open(format) }
        return rest
    }

    private func open(_ format: PCMFormat) {
        if let stream { sonicDestroyStream(stream) }
        stream = sonicCreateStream(Int32(format.sampleRate), Int32(format.channels))
        if let stream { sonicSetSpeed(stream, Float(speed)) }
        self.format = format
    }

    private func drain() -> [Int16] {
        guard let stream, let format else { return [] }
        let available = Int(sonicSamplesAvailable(stream))
        guard available > 0 else { return [] }
        var out = [Int16](repeating: 0, count: available * format.channels)
        let read = out.withUnsafeMutableBufferPointer { sonicReadShortFromStream(stream, $0.baseAddress, Int32(available)) }
        out.removeLast(out.count - Int(read) * format.channels)
        return out
    }
}
