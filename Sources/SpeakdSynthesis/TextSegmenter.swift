import SpeakdProtocol

/// Splits text into upstream requests at sentence boundaries, so no request exceeds the contract's 4096-character
/// `input.maxLength` and every join falls between sentences.
///
/// Sentences are packed greedily up to the limit (fewer requests, fewer joins). A sentence longer than the limit is
/// split at its last clause mark (, ; : – —) before the limit, else at its last space, and only as a last resort
/// between two characters (never inside a grapheme cluster). Lengths count Unicode scalars, as the contract does.
///
/// Threading: a value type; Sendable; `segments` is pure.
public struct TextSegmenter: Sendable {
    public var maxCharacters: Int

    public init(maxCharacters: Int = SpeechLimits.upstreamInputMaxCharacters) {
        precondition(maxCharacters >= 16, "segments this short cannot hold a word")
        self.maxCharacters = maxCharacters
    }

    /// The segments, in order. Joining them gives back the text, except that whitespace at the joins is trimmed
    /// (nothing is lost but the spaces between sentences). Whitespace-only text gives no segments.
    public func segments(of text: String) -> [String] {
        let characters = Array(text)
        var result: [String] = []
        var current: [Character] = []
        var currentLength = 0
        for sentence in sentences(characters) {
            let length = sentence.reduce(0) { $0 + $1.unicodeScalars.count }
            if currentLength + length > maxCharacters, !current.isEmpty {
                append(current, to: &result)
                current = []
                currentLength = 0
            }
            if length > maxCharacters {
                for piece in split(sentence) { append(piece, to: &result) }
            } else {
                current += sentence
                currentLength += length
            }
        }
        append(current, to: &result)
        return result
    }

    private func append(_ characters: some Collection<Character>, to result: inout [String]) {
        let text = String(characters).trimmedForDisplay
        if !text.isEmpty { result.append(text) }
    }

    static let terminators: Set<Character> = [".", "!", "?", "…", "。", "！", "？", "｡", "؟", "।", "॥"]
    static let closers: Set<Character> = ["\"", "'", ")", "]", "}", "”", "’", "»", "」", "』", "）"]
    static let clauseMarks: Set<Character> = [",", ";", ":", "–", "—", "、", "，", "；", "："]
    /// Words that end in a full stop without ending a sentence.
    static let abbreviations: Set<String> = ["mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e",
                                             "no", "fig", "approx", "inc", "ltd", "co", "mt", "u.s", "u.k", "a.m", "p.m"]

    /// Sentence pieces of `characters`, each including its trailing whitespace.
    func sentences(_ characters: [Character]) -> [ArraySlice<Character>] {
        var pieces: [ArraySlice<Character>] = []
        var start = 0
        var index = 0
        while index < characters.count {
            let character = characters[index]
            var end: Int?
            if character == "\n", index + 1 < characters.count, characters[index + 1] == "\n" || isLineBreakBoundary(characters, index) {
                end = index + 1
            } else if Self.terminators.contains(character) {
                var after = index + 1
                while after < characters.count, Self.terminators.contains(characters[after]) || Self.closers.contains(characters[after]) { after += 1 }
                let cjk = character.unicodeScalars.first.map { $0.value >= 0x3000 } ?? false
                if after == characters.count || characters[after].isWhitespace || cjk, !isAbbreviation(characters, dotAt: index) {
                    end = after
                }
                index = after - 1
            }
            if let end {
                var next = end
                while next < characters.count, characters[next].isWhitespace { next += 1 }
                pieces.append(characters[start..<next])
                start = next
                index = next
            } else {
                index += 1
            }
        }
        if start < characters.count { pieces.append(characters[start...]) }
        return pieces
    }

    /// A single newline ends a sentence when the line before it ends without punctuation (lists, headings, poems).
    private func isLineBreakBoundary(_ characters: [Character], _ index: Int) -> Bool {
        var before = index - 1
        while before >= 0, characters[before] == " " || characters[before] == "\t" { before -= 1 }
        return before >= 0 && !Self.clauseMarks.contains(characters[before])
    }

    private func isAbbreviation(_ characters: [Character], dotAt index: Int) -> Bool {
        guard characters[index] == "." else { return false }
        var start = index
        while start > 0, characters[start - 1].isLetter || characters[start - 1] == "." { start -= 1 }
        let word = String(characters[start..<index]).lowercased()
        if word.count == 1, characters[start].isUppercase { return true }  // an initial: "J. R. R. Tolkien"
        return Self.abbreviations.contains(word)
    }

    /// Splits one over-long sentence into pieces within the limit.
    private func split(_ sentence: ArraySlice<Character>) -> [ArraySlice<Character>] {
        var pieces: [ArraySlice<Character>] = []
        var rest = sentence
        while !rest.isEmpty {
            var length = 0
            var limitIndex = rest.startIndex
            while limitIndex < rest.endIndex, length + rest[limitIndex].unicodeScalars.count <= maxCharacters {
                length += rest[limitIndex].unicodeScalars.count
                limitIndex += 1
            }
            if limitIndex == rest.endIndex {
                pieces.append(rest)
                break
            }
            let window = rest[rest.startIndex..<limitIndex]
            let cut = window.lastIndex(where: { Self.clauseMarks.contains($0) }).map { $0 + 1 }
                ?? window.lastIndex(where: { $0.isWhitespace }).map { $0 + 1 }
                ?? limitIndex
            let end = cut > rest.startIndex ? cut : limitIndex
            pieces.append(rest[rest.startIndex..<end])
            rest = rest[end...]
        }
        return pieces
    }
}
