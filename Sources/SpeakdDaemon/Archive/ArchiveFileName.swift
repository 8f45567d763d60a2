#if canImport(Glibc)
import Glibc
#endif

/// Expands an archive file-name pattern. Pure, apart from reading the local time zone.
///
/// Threading: stateless; call from any thread.
enum ArchiveFileName {
    /// `pattern` with its placeholders replaced, plus `.extension`. Slashes in the result become dashes: archives
    /// live directly in the archive directory.
    static func expand(_ pattern: String, job: String, text: String, time: time_t, fileExtension: String) -> String {
        var moment = tm()
        var seconds = time
        localtime_r(&seconds, &moment)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(moment.tm_year + 1900)-\(two(moment.tm_mon + 1))-\(two(moment.tm_mday))"
        let clock = "\(two(moment.tm_hour))\(two(moment.tm_min))\(two(moment.tm_sec))"
        var name = pattern
            .replacingAll("{date}", with: date)
            .replacingAll("{time}", with: clock)
            .replacingAll("{job}", with: job)
            .replacingAll("{slug}", with: slug(text))
        name = String(name.map { $0 == "/" ? "-" : $0 })
        if name.isEmpty || name.hasPrefix(".") { name = "job-" + job + name }
        return name + "." + fileExtension
    }

    /// The first words of `text` as lowercase ASCII letters and digits joined by dashes, at most `maximumLength`
    /// characters and six words; "speech" when nothing is left (a text in another script).
    static func slug(_ text: String, maximumLength: Int = 40) -> String {
        var words: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if scalar.isASCII, let character = Optional(Character(scalar)), character.isLetter || character.isNumber {
                current.append(Character(String(character).lowercased()))
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
            if words.count >= 6 { break }
        }
        if !current.isEmpty, words.count < 6 { words.append(current) }
        var result = ""
        for word in words {
            let candidate = result.isEmpty ? word : result + "-" + word
            if candidate.count > maximumLength {
                if result.isEmpty { result = String(word.prefix(maximumLength)) }
                break
            }
            result = candidate
        }
        return result.isEmpty ? "speech" : result
    }
}

private extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
