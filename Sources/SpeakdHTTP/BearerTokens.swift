/// Checks `Authorization: Bearer …` against the configured tokens in time that does not depend on where a wrong
/// token differs, nor on which token matched: every byte of every token is compared, with no early exit.
///
/// Threading: a value type; Sendable.
public struct BearerTokens: Sendable {
    private let tokens: [[UInt8]]

    public init(_ tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    public var isEmpty: Bool { tokens.isEmpty }

    /// True when `header` is `Bearer <a configured token>`.
    public func allows(authorization header: String?) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let offered = Array(header.utf8.dropFirst(7))
        var matched: UInt8 = 0
        for token in tokens { matched |= Self.equal(offered, token) }
        return matched == 1
    }

    /// 1 when equal, else 0; runs over the whole of the longer input whatever the contents.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> UInt8 {
        var difference = UInt64(truncatingIfNeeded: a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0 ? 1 : 0
    }

    /// Tokens from a file: one per line; blank lines and `#` comments ignored.
    public static func parse(file contents: String) -> [String] {
        contents.split(whereSeparator: \.isNewline)
            .map { String($0.filter { !$0.isWhitespace }) }   // a token has no blanks
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}
