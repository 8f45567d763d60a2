import SpeakdAudio

/// One step of the post-processing stage between synthesis and the ring, in the spirit of MPD's filters: PCM in,
/// PCM out, possibly of another length (a time-stretcher) but in the format `outputFormat(for:)` names.
///
/// Units: `process` takes and returns interleaved s16 samples whose count is a whole number of frames (one sample
/// per channel); lengths and latencies are stated in frames.
///
/// Threading: a filter holds state between calls (overlap, a partial pitch period) and is not Sendable: one task or
/// thread uses it at a time, from the first `process` to the last `flush`. Filters may allocate; they never run on
/// the audio thread.
public protocol AudioFilter: AnyObject {
    /// The format of what comes out for input in `format` (the same unless the filter resamples or remaps).
    func outputFormat(for format: PCMFormat) -> PCMFormat

    /// Filters `samples` (in `format`) and returns what is ready; the filter may keep some input back until more
    /// arrives or `flush` is called.
    func process(_ samples: [Int16], format: PCMFormat) -> [Int16]

    /// Returns everything still held, as if the input ended here (the end of a segment), and makes the filter ready
    /// for an unrelated next input.
    func flush() -> [Int16]
}

extension AudioFilter {
    public func outputFormat(for format: PCMFormat) -> PCMFormat { format }
}
