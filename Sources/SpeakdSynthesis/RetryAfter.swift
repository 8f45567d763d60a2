import NIOHTTP1
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How long an upstream asks a client to wait: `Retry-After` (seconds or an HTTP date, RFC 9110) or OpenAI's
/// `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens` durations ("1s", "6m0s", "20ms").
///
/// Threading: stateless; call from anywhere.
enum RetryAfter {
    static func seconds(from headers: HTTPHeaders, now: Date = Date()) -> Double? {
        if let value = headers.first(name: "Retry-After") {
            if let seconds = Double(value.trimmingSpaces), seconds >= 0 { return seconds }
            if let date = httpDate(value.trimmingSpaces) { return max(date.timeIntervalSince(now), 0) }
        }
        let resets = ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"].compactMap { headers.first(name: $0) }
            .compactMap(duration)
        return resets.max()
    }

    /// "6m0s", "1.5s", "20ms", "1h2m" → seconds.
    static func duration(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            guard let value = Double(number) else { return nil }
            let rest = text[index...]
            if rest.hasPrefix("ms") {
                total += value / 1000
                index = text.index(index, offsetBy: 2)
            } else if character == "h" {
                total += value * 3600
                index = text.index(after: index)
            } else if character == "m" {
                total += value * 60
                index = text.index(after: index)
            } else if character == "s" {
                total += value
                index = text.index(after: index)
            } else {
                return nil
            }
            number = ""
            sawUnit = true
        }
        if !number.isEmpty { guard let value = Double(number) else { return nil }; total += value }
        return sawUnit || !text.isEmpty ? total : nil
    }

    /// IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT".
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT" else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3]) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        // Bounded fields: a day of 10^17 overflowed the arithmetic below and trapped (found writing the upstream-error
        // fuzz target; its corpus keeps the input).
        guard time.count == 3, (1...31).contains(day), (1...9999).contains(year), (0...23).contains(time[0]),
              (0...59).contains(time[1]), (0...60).contains(time[2]) else { return nil }
        // Days since 1970-01-01 (civil-from-days inverse, proleptic Gregorian).
        let y = month < 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month < 2 ? month + 10 : month - 2
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = Double(days * 86_400 + time[0] * 3_600 + time[1] * 60 + time[2])
        return Date(timeIntervalSince1970: seconds)
    }
}

private extension String {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
