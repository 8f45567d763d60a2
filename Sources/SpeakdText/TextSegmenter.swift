import SpeakdProtocol

/// Splits text into upstream requests at sentence boundaries, so no request exceeds the contract's 4096-character
/// `input.maxLength` and every join falls between sentences.
///
/// Time to first sound is what users judge, and an upstream's time to first byte grows with the request: so a text
/// longer than the opening budget starts with a short **opening** — its first sentence, or the first clause of a long
/// first sentence — and the following segments grow (400, 1,200, then up to the limit) to keep requests few.
/// Sentences are packed greedily within each segment's size. A sentence longer than the size is split at its last
/// clause mark (, ; : – —) before the limit, else at its last space, and only as a last resort between two
/// characters (never inside a grapheme cluster). Lengths count Unicode scalars, as the contract does.
///
/// Threading: a value type; Sendable; `segments` is pure.
public struct TextSegmenter: Sendable {
    public var maxCharacters: Int
    /// Longest opening segment; texts up to this long are sent whole. 0 disables the opening.
    public var openingMaxCharacters: Int
    /// Sizes of the segments after the opening, before they reach `maxCharacters`.
    public var growth: [Int] = [400, 1_200]
    /// Shortest opening worth cutting a first sentence for: an upstream that is slow to start needs the opening long
    /// enough to cover the next request's time to first byte (`UpstreamPerformance` chooses it). 0: no minimum.
    public var openingMinCharacters = 0

    public init(maxCharacters: Int = SpeechLimits.upstreamInputMaxCharacters, openingMaxCharacters: Int = 160) {
        precondition(maxCharacters >= 16, "segments this short cannot hold a word")
        self.maxCharacters = maxCharacters
        self.openingMaxCharacters = min(openingMaxCharacters, maxCharacters)
    }

    /// The segments, in order. Joining them gives back the text, except that whitespace at the joins is trimmed
    /// (nothing is lost but the spaces between sentences). Whitespace-only text gives no segments.
    public func segments(of text: String) -> [String] {
        let characters = Array(text)
        var pending = sentences(characters)[...]
        var result: [String] = []
        let total = characters.reduce(0) { $0 + $1.unicodeScalars.count }
        let opens = openingMaxCharacters > 0 && total > openingMaxCharacters
        if opens, let first = pending.first {
            pending = pending.dropFirst()
            let (opening, rest) = splitOpening(first)
            append(opening, to: &result)
            if openingMinCharacters > 0, !rest.isEmpty, rest.reduce(0, { $0 + $1.unicodeScalars.count }) <= maxCharacters {
                // Sized for a slow upstream: the rest of the sentence is asked for alone, so it arrives before the
                // opening has played out (packed with the next sentences, its first byte would come too late).
                append(rest, to: &result)
            } else if !rest.isEmpty {
                pending = [rest] + pending
            }
        }
        var current: [Character] = []
        var currentLength = 0
        func limitForSegment(_ index: Int) -> Int {
            guard opens, index >= 1, index - 1 < growth.count else { return maxCharacters }
            return min(max(growth[index - 1], 16), maxCharacters)
        }
        for sentence in pending {
            let limit = limitForSegment(result.count)
            let length = sentence.reduce(0) { $0 + $1.unicodeScalars.count }
            if currentLength + length > limit, !current.isEmpty {
                append(current, to: &result)
                current = []
                currentLength = 0
            }
            let nextLimit = limitForSegment(result.count)
            if length > nextLimit {
                for piece in split(sentence, limit: nextLimit) { append(piece, to: &result) }
            } else {
                current += sentence
                currentLength += length
            }
        }
        append(current, to: &result)
        return result
    }

    /// The first sentence whole if it fits the opening budget, else its first clause (or words up to the budget).
    private func splitOpening(_ sentence: ArraySlice<Character>) -> (ArraySlice<Character>, ArraySlice<Character>) {
        let length = sentence.reduce(0) { $0 + $1.unicodeScalars.count }
        guard length > openingMaxCharacters else { return (sentence, []) }
        var count = 0
        var budgetEnd = sentence.startIndex
        while budgetEnd < sentence.endIndex, count + sentence[budgetEnd].unicodeScalars.count <= openingMaxCharacters {
            count += sentence[budgetEnd].unicodeScalars.count
            budgetEnd += 1
        }
        let window = sentence[sentence.startIndex..<budgetEnd]
        // The first clause that is not trivially short ("Well," is too little to be worth a request).
        let minimum = sentence.startIndex + max(min(24, openingMaxCharacters / 4), min(openingMinCharacters, length))
        // With a minimum (a slow upstream), the first word end past it; else the last one within the budget.
        let wordEnd = openingMinCharacters > 0
            ? window.indices.first { $0 >= minimum && window[$0].isWhitespace }
            : window.lastIndex(where: { $0.isWhitespace })
        let cut = window.indices.first { $0 >= minimum && Self.clauseMarks.contains(window[$0]) && isClauseEnd(window, $0) }
            .map { $0 + 1 }
            ?? wordEnd.map { $0 + 1 }
            ?? budgetEnd
        return (sentence[sentence.startIndex..<cut], sentence[cut...])
    }

    /// A comma inside a number (1,000) does not end a clause.
    private func isClauseEnd(_ text: ArraySlice<Character>, _ index: Int) -> Bool {
        index + 1 >= text.endIndex || !text[index + 1].isNumber
    }

    private func append(_ characters: some Collection<Character>, to result: inout [String]) {
        let text = String(characters).trimmedForDisplay
        if !text.isEmpty { result.append(text) }
    }

    static let terminators: Set<Character> = [".", "!", "?", "…", "。", "！", "？", "｡", "؟", "।", "॥"]
    static let closers: Set<Character> = ["\"", "'", ")", "]", "}", "”", "’", "»", "」", "』", "）"]
    static let clauseMarks: Set<Character> = [",", ";", ":", "–", "—", "、", "，", "；", "："]
    /// Words before a name: their full stop never ends a sentence.
    static let titles: Set<String> = ["mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "mt", "no", "fig", "vs", "e.g", "i.e", "cf"]
    /// Abbreviations that may end a sentence: they do when the next word starts with a capital.
    static let abbreviations: Set<String> = ["etc", "approx", "inc", "ltd", "co", "u.s", "u.k", "a.m", "p.m", "min", "max"]

    /// Sentence pieces of `characters`, each including its trailing whitespace.
    public func sentences(_ characters: [Character]) -> [ArraySlice<Character>] {
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
                if after == characters.count || characters[after].isWhitespace || cjk,
                   !continuesSentence(characters, runStart: index, runEnd: after) {
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

    /// Whether the terminator run `runStart..<runEnd` (already followed by whitespace or the end) sits inside a
    /// sentence: a title or initial ("Dr. Who", "J. R. R. Tolkien"), a list number at the start of a line ("1. Milk"),
    /// an ellipsis or a trailing abbreviation followed by a lowercase word ("wait... what", "etc. and so on").
    private func continuesSentence(_ characters: [Character], runStart: Int, runEnd: Int) -> Bool {
        var next = runEnd
        while next < characters.count, characters[next].isWhitespace, characters[next] != "\n" { next += 1 }
        let nextIsLowercase = next < characters.count && characters[next].isLowercase
        let run = characters[runStart..<runEnd]
        if run.contains("…") || run.starts(with: [".", "."]) { return nextIsLowercase }
        guard characters[runStart] == ".", runEnd == runStart + 1 else { return false }
        var start = runStart
        while start > 0, characters[start - 1].isLetter || characters[start - 1].isNumber || characters[start - 1] == "." {
            start -= 1
        }
        let word = String(characters[start..<runStart]).lowercased()
        if !word.isEmpty, word.allSatisfy(\.isNumber) {
            // "1. Milk" at the start of a line is a list marker; "in 1999. Then" ends a sentence.
            var lineStart = start
            while lineStart > 0, characters[lineStart - 1] == " " || characters[lineStart - 1] == "\t" { lineStart -= 1 }
            return lineStart == 0 || characters[lineStart - 1] == "\n"
        }
        if word.count == 1, characters[start].isUppercase { return true }
        if Self.titles.contains(word) { return true }
        if Self.abbreviations.contains(word) { return nextIsLowercase }
        return false
    }

    /// Splits one over-long sentence into pieces within `limit`.
    private func split(_ sentence: ArraySlice<Character>, limit: Int) -> [ArraySlice<Character>] {
        var pieces: [ArraySlice<Character>] = []
        var rest = sentence
        while !rest.isEmpty {
            var length = 0
            var limitIndex = rest.startIndex
            while limitIndex < rest.endIndex, length + rest[limitIndex].unicodeScalars.count <= limit {
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
