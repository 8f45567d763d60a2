import SpeakdCore

/// Filters in a row: what comes out of one goes into the next (MPD's chain filter). The daemon's writer runs one
/// chain per job between the engine's chunks and the ring: `Resampler` and `ChannelMap` to a fixed device format
/// when one is configured, then `Gain`; the announcement chain and time-stretching plug in here too.
///
/// Formats: each filter's input is the previous one's `outputFormat(for:)`. A chunk in a new format flushes what
/// the filters held of the previous one first; that tail goes ahead of the new audio when the output format is the
/// same (a fixed device format), else it is dropped (at most a resampler's few milliseconds) — callers flush at the
/// end of each segment, as the daemon does, so nothing is held at a change.
///
/// Positions: word starts (`AudioChunk.wordStarts`, frames from the start of the request's audio) are scaled by the
/// rate change, so marks stay on their words after resampling.
///
/// Threading: not Sendable; one task at a time, like its filters (never the audio thread).
public final class ProcessingChain {
    public let filters: [any AudioFilter]
    private var inputFormat: PCMFormat?

    public init(_ filters: [any AudioFilter]) {
        self.filters = filters
    }

    /// The chain for playback: to `deviceFormat` when the device is opened at a fixed format (nil: the source's
    /// format, as it comes), then `gain` (linear). Filters with nothing to do are left out, so an empty chain costs
    /// nothing.
    public static func playback(gain: Double, deviceFormat: PCMFormat?) -> ProcessingChain {
        var filters: [any AudioFilter] = []
        if let deviceFormat {
            filters.append(Resampler(outputRate: deviceFormat.sampleRate))
            filters.append(ChannelMap(channels: deviceFormat.channels))
        }
        let gain = Gain(gain)
        if !gain.isIdentity { filters.append(gain) }
        return ProcessingChain(filters)
    }

    public var isEmpty: Bool { filters.isEmpty }

    public func outputFormat(for format: PCMFormat) -> PCMFormat {
        filters.reduce(format) { $1.outputFormat(for: $0) }
    }

    /// Filters `chunk`; the result is in `outputFormat(for: chunk.format)` and holds the frames ready (the filters
    /// may hold some back until `flush`). Throws what a filter throws (`AudioFilterError`).
    public func process(_ chunk: AudioChunk) throws(AudioFilterError) -> AudioChunk {
        guard !filters.isEmpty else { return chunk }
        var held: AudioChunk?
        if let inputFormat, inputFormat != chunk.format {
            held = try flush()
        }
        inputFormat = chunk.format
        var samples = chunk.samples
        var format = chunk.format
        for filter in filters {
            try filter.process(&samples, format: format)
            format = filter.outputFormat(for: format)
        }
        let ratio = Double(format.sampleRate) / Double(chunk.format.sampleRate)
        let words = ratio == 1 ? chunk.wordStarts : chunk.wordStarts.map {
            WordStart(textOffset: $0.textOffset, frame: Int((Double($0.frame) * ratio).rounded()))
        }
        if let held, held.format == format, !held.samples.isEmpty {
            return AudioChunk(format: format, samples: held.samples + samples, wordStarts: words)
        }
        return AudioChunk(format: format, samples: samples, wordStarts: words)
    }

    /// Everything the filters still hold, as if the input ended here (the end of a segment), in the chain's output
    /// format; nil when nothing was held or nothing was processed. The chain is then ready for unrelated input.
    /// Throws what a filter throws.
    public func flush() throws(AudioFilterError) -> AudioChunk? {
        guard let inputFormat else { return nil }
        self.inputFormat = nil
        var tail: [Int16] = []
        var format = inputFormat
        for filter in filters {
            if !tail.isEmpty { try filter.process(&tail, format: format) }
            tail += try filter.flush()
            format = filter.outputFormat(for: format)
        }
        return tail.isEmpty ? nil : AudioChunk(format: format, samples: tail)
    }
}
