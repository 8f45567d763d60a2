import SpeakdCore

/// One step of the post-processing stage between synthesis and the ring, in the spirit of MPD's filters: PCM in,
/// PCM out, possibly of another length (a time-stretcher, a resampler) and in the format `outputFormat(for:)` names.
///
/// Units: buffers hold interleaved s16 samples, a whole number of frames (one sample per channel); lengths, delays
/// and positions are stated in frames.
///
/// Threading: a filter holds state between calls (overlap, a partial pitch period, a resampler's history) and is not
/// Sendable: one task or thread uses it at a time, from the first `process` to the last `flush`, and never the
/// audio thread. A filter may allocate while it grows its buffers, not in the steady state (same-sized chunks).
public protocol AudioFilter: AnyObject {
    /// The format of what comes out for input in `format` (the same unless the filter resamples or remaps). Pure.
    func outputFormat(for format: PCMFormat) -> PCMFormat

    /// Filters `samples` (whole frames in `format`) in place: on return they hold the frames that are ready, in
    /// `outputFormat(for: format)`; the filter may keep some frames back until more input or `flush`. Callers flush
    /// before changing `format` (`ProcessingChain` does). Throws `AudioFilterError` when the format is not one the
    /// filter handles or its library fails; `samples` is then left as it was.
    func process(_ samples: inout [Int16], format: PCMFormat) throws(AudioFilterError)

    /// Returns every frame still held, as if the input ended here (the end of a segment), in the output format of
    /// the last `process`, and makes the filter ready for an unrelated next input. Throws when its library fails.
    func flush() throws(AudioFilterError) -> [Int16]
}

extension AudioFilter {
    public func outputFormat(for format: PCMFormat) -> PCMFormat { format }
}

/// Why a filter could not process its input.
///
/// Threading: a value type; Sendable.
public struct AudioFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The filter does not handle this input or output format (e.g. a channel layout it cannot map).
        case unsupportedFormat
        /// The C library behind the filter failed (out of memory, an internal error).
        case library
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
