/// A run of samples in one format, as it comes out of an engine.
///
/// Threading: a value type; Sendable.
public struct AudioChunk: Sendable, Equatable {
    public var format: PCMFormat
    public var samples: [Int16]
    /// Words whose first sample is in this chunk, from engines that know (espeak-ng): exact places for marks.
    public var wordStarts: [WordStart]

    public init(format: PCMFormat, samples: [Int16], wordStarts: [WordStart] = []) {
        self.format = format
        self.samples = samples
        self.wordStarts = wordStarts
    }
}

/// Where a word of the request's text begins in its audio.
///
/// Threading: a value type; Sendable.
public struct WordStart: Sendable, Equatable {
    /// Offset of the word's first character in the request's `input`, in Unicode scalars.
    public var textOffset: Int
    /// Frame of the request's audio (counted from its first frame) where the word begins.
    public var frame: Int

    public init(textOffset: Int, frame: Int) {
        self.textOffset = textOffset
        self.frame = frame
    }
}
