/// Estimates where in a segment's audio a place in its text is heard, for engines that report no word timings.
///
/// The model (docs/architecture.md, "Marks"): speech fills the segment's *voiced span* — the audio between its
/// leading and trailing silence — and advances through the text at a pace set by what takes time to say. Each
/// vowel group (a syllable nucleus) weighs 1, each other letter 0.35, a digit 1.2 (digits are read as words), a
/// clause mark 2.5 and a sentence end 3 (the pauses they bring), a space 0.3. Fitted on espeak-ng's own word
/// onsets (`EspeakWordTimingTests` prints the error). A place in the text is heard at the
/// fraction of the span equal to the fraction of the weight before it. A place at the very start is the span's
/// start (the first word's onset), one at the very end is the end of the audio (everything has been heard).
///
/// Threading: stateless; pure functions, callable from any thread.
public enum MarkTiming {
    /// Frame offsets (from the first frame of the segment's audio) at which each text offset is heard.
    /// - Parameters:
    ///   - offsets: positions in `text`, in Unicode scalars, each in 0…scalar count.
    ///   - samples: the segment's interleaved s16 audio, all of it.
    public static func frames(forOffsets offsets: [Int], in text: String, samples: [Int16], channels: Int,
                              sampleRate: Int) -> [Int] {
        let totalFrames = samples.count / max(channels, 1)
        let scalars = Array(text.unicodeScalars)
        let cumulative = cumulativeWeights(scalars)
        let total = cumulative.last ?? 0
        let span = voicedSpan(samples: samples, channels: channels, sampleRate: sampleRate)
        return offsets.map { offset in
            let clamped = min(max(offset, 0), scalars.count)
            if clamped >= scalars.count { return totalFrames }
            guard total > 0 else { return span.lowerBound }
            let fraction = cumulative[clamped] / total
            return span.lowerBound + Int((fraction * Double(span.count)).rounded())
        }
    }

    /// `result[i]` is the weight of the first `i` scalars; `result.count == scalars.count + 1`.
    public static func cumulativeWeights(_ scalars: [Unicode.Scalar]) -> [Double] {
        var result = [0.0]
        result.reserveCapacity(scalars.count + 1)
        var sum = 0.0
        var previousWasVowel = false
        for scalar in scalars {
            let vowel = isVowel(scalar)
            sum += weight(of: scalar, continuesVowelGroup: vowel && previousWasVowel)
            previousWasVowel = vowel
            result.append(sum)
        }
        return result
    }

    static func weight(of scalar: Unicode.Scalar, continuesVowelGroup: Bool) -> Double {
        if continuesVowelGroup { return 0 }
        if isVowel(scalar) { return 1 }
        let properties = scalar.properties
        if properties.numericType != nil { return 1.2 }
        if properties.isAlphabetic {
            // Scripts without these vowels (CJK, kana, …): a character is about a syllable.
            return scalar.value >= 0x2E80 ? 1 : 0.35
        }
        if properties.isWhitespace { return 0.3 }
        switch scalar {
        case ",", ";", ":", "–", "—", "、", "，", "；", "：": return 2.5
        case ".", "!", "?", "…", "。", "！", "？": return 3
        default: return 0
        }
    }

    private static let vowels = Set("aeiouyAEIOUYαεηιουωΑΕΗΙΟΥΩаеёиоуыэюяАЕЁИОУЫЭЮЯ".unicodeScalars)

    static func isVowel(_ scalar: Unicode.Scalar) -> Bool {
        // Latin, Greek and Cyrillic vowels, with their accented forms folded to the base letter.
        vowels.contains(baseVowel(scalar))
    }

    /// Frames from the first to just past the last 10 ms window louder than the silence threshold: 40 dB below the
    /// loudest window, and never below -50 dBFS. All of the audio when nothing is louder.
    public static func voicedSpan(samples: [Int16], channels: Int, sampleRate: Int) -> Range<Int> {
        let channels = max(channels, 1)
        let frames = samples.count / channels
        let window = max(sampleRate / 100, 1)
        let windows = (frames + window - 1) / window
        guard windows > 0 else { return 0..<0 }
        var energies = [Double](repeating: 0, count: windows)
        for index in 0..<windows {
            let start = index * window * channels
            let end = min((index + 1) * window * channels, samples.count)
            var sum = 0.0
            for sample in samples[start..<end] { sum += Double(sample) * Double(sample) }
            energies[index] = sum / Double(max(end - start, 1))
        }
        let loudest = energies.max() ?? 0
        let floor = (32_768.0 * 32_768.0) * 1e-5   // -50 dBFS
        let threshold = max(loudest * 1e-4, floor)      // 40 dB below the loudest
        guard let first = energies.firstIndex(where: { $0 > threshold }),
              let last = energies.lastIndex(where: { $0 > threshold }) else { return 0..<frames }
        return (first * window)..<min((last + 1) * window, frames)
    }
}

/// The base letter of an accented Latin vowel ("é" → "e"); other scalars unchanged. A table, because the standard
/// library exposes no canonical decomposition without Foundation.
private func baseVowel(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
    switch scalar.value {
    case 0xC0...0xC5: "A"
    case 0xC8...0xCB: "E"
    case 0xCC...0xCF: "I"
    case 0xD2...0xD6, 0xD8: "O"
    case 0xD9...0xDC: "U"
    case 0xDD: "Y"
    case 0xE0...0xE5: "a"
    case 0xE8...0xEB: "e"
    case 0xEC...0xEF: "i"
    case 0xF2...0xF6, 0xF8: "o"
    case 0xF9...0xFC: "u"
    case 0xFD, 0xFF: "y"
    default: scalar
    }
}
