import SpeakdProtocol
import SpeakdText
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The doctor's reasoning over what an upstream answered: the audio's container and format and how they were
/// announced, speech length, the time-to-first-byte line, the speed range, and the warnings. Pure functions, so each
/// rule is unit-tested without a server.
///
/// Threading: stateless.
enum UpstreamCheckAnalysis {
    /// The format of an answer and where its audio starts.
    struct Format: Equatable {
        var report: UpstreamReport.AudioFormatReport
        /// Bytes before the samples (a WAV header's length; 0 otherwise).
        var dataOffset: Int
    }

    /// Reads the container from the first bytes and the rate and channel count from, in order of trust: the
    /// `sample_rate` setting, a WAV header, a Content-Type parameter, a response header of the server's own.
    static func format(headers: [(name: String, value: String)], firstBytes: [UInt8], rateOverride: Int?) -> Format {
        func header(_ wanted: String) -> String? { headers.first { $0.name.lowercased() == wanted }?.value }
        let contentType = header("content-type")
        let chunked = header("transfer-encoding")?.lowercased().contains("chunked") == true
        var report = UpstreamReport.AudioFormatReport(contentType: contentType, container: container(of: firstBytes),
                                                      rateSource: "nothing (24000 Hz assumed)", chunked: chunked)
        var dataOffset = 0
        var rate: (Int, String)?
        var channels: Int?
        // A header of the server's own that names a rate or a channel count (never the rate-limit headers).
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower != "content-type", !lower.contains("ratelimit"),
                  lower.contains("rate") || lower.contains("channel"),
                  let number = Int(value.trimmedForDisplay) else { continue }
            report.formatHeaders.append("\(name): \(value)")
            if lower.contains("channel"), (1...8).contains(number) { channels = channels ?? number }
            if lower.contains("rate"), (4_000...192_000).contains(number) { rate = rate ?? (number, "the \(name) header") }
        }
        for parameter in (contentType ?? "").split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
                .map { String($0).trimmedForDisplay.lowercased() }
            guard pair.count == 2, let number = Int(pair[1]) else { continue }
            if pair[0] == "rate", (4_000...192_000).contains(number) { rate = (number, "Content-Type") }
            if pair[0] == "channels", (1...8).contains(number) { channels = number }
        }
        if report.container == "wav", let wav = wavFormat(firstBytes) {
            rate = (wav.rate, "WAV header")
            channels = wav.channels
            report.bitsPerSample = wav.bits
            dataOffset = wav.dataOffset
        }
        if report.container == "raw" || report.container == "wav" {
            if let override = rateOverride { rate = (override, "sample_rate setting") }
            report.sampleRate = rate?.0 ?? 24_000
            report.channels = channels ?? 1
            report.bitsPerSample = report.bitsPerSample ?? 16
            report.rateSource = rate?.1 ?? report.rateSource
        } else {
            report.rateSource = "inside the \(report.container) stream"
        }
        return Format(report: report, dataOffset: dataOffset)
    }

    /// `raw`, `wav`, `mp3`, `ogg` or `flac`, from the first bytes.
    static func container(of bytes: [UInt8]) -> String {
        func starts(_ text: String) -> Bool { bytes.starts(with: Array(text.utf8)) }
        if starts("RIFF") { return "wav" }
        if starts("OggS") { return "ogg" }
        if starts("fLaC") { return "flac" }
        if starts("ID3") || (bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) { return "mp3" }
        return "raw"
    }

    /// A RIFF/WAVE header's `fmt ` chunk and where its `data` chunk's samples begin.
    static func wavFormat(_ bytes: [UInt8]) -> (rate: Int, channels: Int, bits: Int, dataOffset: Int)? {
        func uint(_ at: Int, _ size: Int) -> Int? {
            guard at + size <= bytes.count else { return nil }
            return (0..<size).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
        }
        var offset = 12
        var found: (rate: Int, channels: Int, bits: Int)?
        while let size = uint(offset + 4, 4), offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            if id == "fmt ", let channels = uint(offset + 10, 2), let rate = uint(offset + 12, 4), let bits = uint(offset + 22, 2) {
                found = (rate, channels, bits)
            }
            if id == "data" { return found.map { ($0.rate, $0.channels, $0.bits, offset + 8) } }
            offset += 8 + size + (size & 1)
        }
        return nil
    }

    /// Seconds of audio in `samples` (interleaved s16le), and seconds of speech: from the first to the last 10 ms
    /// frame louder than 5% of the loudest (servers pad each answer with silence: Kokoro ~0.1 s before, ~0.125 s after).
    static func durations(of samples: [Int16], rate: Int, channels: Int) -> (audio: Double, speech: Double) {
        let frames = samples.count / max(channels, 1)
        let audio = Double(frames) / Double(rate)
        let window = max(rate / 100, 1)
        var loudness: [Double] = []
        var start = 0
        while start < frames {
            let end = min(start + window, frames)
            var sum = 0.0
            for frame in start..<end {
                let value = Double(samples[frame * channels])
                sum += value * value
            }
            loudness.append((sum / Double(end - start)).squareRoot())
            start = end
        }
        let threshold = max(100, 0.05 * (loudness.max() ?? 0))
        guard let first = loudness.firstIndex(where: { $0 > threshold }),
              let last = loudness.lastIndex(where: { $0 > threshold }) else { return (audio, 0) }
        return (audio, min(audio, Double((last - first + 1) * window) / Double(rate)))
    }

    /// The line through two (characters, milliseconds) points; a negative slope (noise) counts as flat.
    static func firstByteModel(_ short: (Int, Double), _ long: (Int, Double), basis: String) -> UpstreamReport.FirstByteModel {
        guard long.0 != short.0 else { return .init(baseMilliseconds: short.1, millisecondsPerCharacter: 0, basis: basis) }
        let slope = max(0, (long.1 - short.1) / Double(long.0 - short.0))
        return .init(baseMilliseconds: max(0, short.1 - slope * Double(short.0)), millisecondsPerCharacter: slope, basis: basis)
    }

    /// Streaming: the first audio byte came at least 0.1 s and a fifth of the whole wait before the body ended.
    static func streams(firstByte: Double, end: Double) -> Bool {
        end - firstByte >= 100 && end - firstByte >= 0.2 * end
    }

    /// The probed speeds around 1.0 that were all accepted, 1.0 included (the phrase itself was asked at 1.0).
    static func speedRange(_ probes: [UpstreamReport.SpeedProbe]) -> UpstreamReport.SpeedRange {
        let accepted = Dictionary(probes.map { ($0.speed, $0.accepted) }, uniquingKeysWith: { $1 }).merging([1.0: true]) { $1 }
        let speeds = accepted.keys.sorted()
        let one = speeds.firstIndex(of: 1.0)!
        var low = one, high = one
        while low > 0, accepted[speeds[low - 1]] == true { low -= 1 }
        while high < speeds.count - 1, accepted[speeds[high + 1]] == true { high += 1 }
        return .init(minimum: speeds[low], maximum: speeds[high])
    }

    /// Speech per character outside what people speak means the audio is played at the wrong rate (or a stereo stream
    /// is taken as mono). Normal English at speed 1 is ~60–90 ms per character: outside 45–130 ms something is off.
    static let plausibleMillisecondsPerCharacter = 45.0...130.0
    static let typicalMillisecondsPerCharacter = 75.0
    static let commonRates = [8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]

    static func rateWarning(millisecondsPerCharacter: Double, rate: Int, channels: Int, source: String,
                            upstream: String) -> String? {
        guard millisecondsPerCharacter > 0, !plausibleMillisecondsPerCharacter.contains(millisecondsPerCharacter) else { return nil }
        let implied = Double(rate) * millisecondsPerCharacter / typicalMillisecondsPerCharacter
        let likely = commonRates.min { abs(log(Double($0) / implied)) < abs(log(Double($1) / implied)) }!
        let speech = String(Int(millisecondsPerCharacter.rounded()))
        var advice = "the audio is probably \(likely) Hz"
        if channels == 1, likely == 2 * rate { advice += " (or \(rate) Hz stereo taken as mono)" }
        return "speech lasts \(speech) ms per character at \(rate) Hz (\(source)); people speak 60-90: \(advice), set sample_rate = \(likely) in [upstream.\(upstream)] if the server cannot say so"
    }

    /// Names from a listing body: OpenAI's `{"data":[{"id"}]}`, Kokoro-FastAPI's `{"voices":[…]}`, or a bare array
    /// of strings or of objects with `id` / `name`.
    static func names(inListing body: [UInt8]) -> [String]? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return nil }
        var items: [JSONValue]?
        switch value {
        case .array(let array): items = array
        case .object(let object):
            for key in ["data", "voices", "models"] {
                if case .array(let array)? = object[key] { items = array; break }
            }
        default: break
        }
        return items?.compactMap { item in
            if let name = item.stringValue { return name }
            if case .object(let object) = item { return (object["id"] ?? object["name"] ?? object["voice_id"])?.stringValue }
            return nil
        }
    }
}
