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

extension AudioChunk {
    /// This chunk in order as pieces of at most `maxFrames` whole frames, the first of at most `firstFrames` (when
    /// given); itself alone when it is that short. Word starts go with the first piece: their frames count from the
    /// start of the request's audio, not the chunk's, so the pieces together carry them as the whole did.
    public func split(maxFrames: Int, firstFrames: Int? = nil) -> [AudioChunk] {
        let channels = max(format.channels, 1)
        let step = max(maxFrames, 1) * channels
        let first = min(max(firstFrames ?? maxFrames, 1) * channels, step)
        guard samples.count > first else { return [self] }
        return ([0] + Array(stride(from: first, to: samples.count, by: step))).map { start in
            let end = min(start == 0 ? first : start + step, samples.count)
            return AudioChunk(format: format, samples: Array(samples[start..<end]), wordStarts: start == 0 ? wordStarts : [])
        }
    }
}

extension AudioChunk {
    /// Below this magnitude (-50 dBFS) a sample counts as silence, as the benchmarks' silence detector counts it.
    public static let silenceMagnitude: Int16 = 100

    /// Its last `milliseconds` (or all of it, when shorter) are silence: speech that stops here pauses, and a device
    /// running dry here is heard as a longer pause, not as a cut in a word.
    public func endsInSilence(milliseconds: Int = 10) -> Bool {
        let tail = min(samples.count, format.sampleRate * milliseconds / 1_000 * max(format.channels, 1))
        guard tail > 0 else { return false }
        return samples.suffix(tail).allSatisfy { $0 > -Self.silenceMagnitude && $0 < Self.silenceMagnitude }
    }
}
