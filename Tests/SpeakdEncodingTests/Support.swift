import Foundation
@_exported import SpeakdTestSupport
import XCTest
@testable import SpeakdEncoding
import SpeakdCore

/// Test signals, external tools and signal comparison shared by the encoder tests.
enum TestSignal {
    /// A speech-like test signal: a chirp sweeping 150 Hz → 3.4 kHz (the telephone band where speech energy lives),
    /// amplitude-modulated at 4 Hz like syllables, plus white noise at `noise` of full scale. Deterministic.
    static func chirp(rate: Int, seconds: Double, noise: Double = 0.01, seed: UInt64 = 1) -> [Int16] {
        let count = Int(Double(rate) * seconds)
        var generator = SplitMix(seed: seed)
        let (low, high) = (150.0, 3400.0)
        var phase = 0.0
        return (0..<count).map { index in
            let time = Double(index) / Double(rate)
            // Sweep up and down every 2 s so every part of the signal has the full band.
            let position = (time / 2).truncatingRemainder(dividingBy: 2)
            let frequency = low + (high - low) * (position < 1 ? position : 2 - position)
            phase += 2 * .pi * frequency / Double(rate)
            let envelope = 0.55 + 0.45 * sin(2 * .pi * 4 * time)
            let value = 0.5 * envelope * sin(phase) + noise * (generator.nextUnit() * 2 - 1)
            return Int16(clamping: Int((value * 32767).rounded()))
        }
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    /// The largest normalized cross-correlation of `decoded` against `original` over lags within ±`maxLag` samples
    /// (the best alignment), computed over the overlapping part. 1 means identical up to gain.
    static func similarity(_ original: [Int16], _ decoded: [Int16], maxLag: Int = 1200) -> (ncc: Double, lag: Int) {
        let a = original.map(Double.init), b = decoded.map(Double.init)
        // Find the lag on a 1 s window from the middle (cheap), then score the whole overlap at that lag.
        let window = min(24_000, a.count / 2)
        let start = a.count / 2 - window / 2
        var best = (ncc: -2.0, lag: 0)
        for lag in -maxLag...maxLag {
            let score = ncc(a, b, from: start, count: window, lag: lag)
            if score > best.ncc { best = (score, lag) }
        }
        let from = max(0, -best.lag), to = min(a.count, b.count - best.lag)
        return (ncc(a, b, from: from, count: max(0, to - from), lag: best.lag), best.lag)
    }

    /// Σ a[i]·b[i+lag] / √(Σa² Σb²) for i in from..<from+count (indices outside b count as silence).
    static func ncc(_ a: [Double], _ b: [Double], from: Int, count: Int, lag: Int) -> Double {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var dot = 0.0, energyA = 0.0, energyB = 0.0
                for index in from..<(from + count) {
                    let x = a[index]
                    let j = index + lag
                    let y = j >= 0 && j < b.count ? b[j] : 0
                    dot += x * y
                    energyA += x * x
                    energyB += y * y
                }
                return energyA > 0 && energyB > 0 ? dot / (energyA * energyB).squareRoot() : 0
            }
        }
    }
}

/// External tools (ffmpeg, ffprobe, flac): asserted present, never skipped. scripts/install-deps installs them.
enum Tool {
    static func path(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        XCTFail("\(name) is not installed: run scripts/install-deps --with-tests", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }

    /// Runs a tool, returns its standard output; fails the test (with its standard error) if it exits non-zero.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Data {
        let process = try Subprocess(try path(name, file: file, line: line), arguments)
        let (status, data, messages) = process.finishData()
        guard status == 0 else {
            XCTFail("\(name) \(arguments.joined(separator: " ")) failed: \(String(decoding: messages, as: UTF8.self))",
                    file: file, line: line)
            throw CocoaError(.fileReadCorruptFile)
        }
        return data
    }

    /// Decodes any file to mono s16le at `rate` with ffmpeg.
    static func ffmpegDecode(_ path: String, rate: Int, channels: Int = 1) throws -> [Int16] {
        let data = try run("ffmpeg", ["-v", "error", "-i", path, "-f", "s16le", "-acodec", "pcm_s16le",
                                      "-ac", String(channels), "-ar", String(rate), "-"])
        return samples(data)
    }

    /// ffprobe's idea of the file's duration in seconds (`format=duration`).
    static func duration(_ path: String) throws -> Double {
        let text = String(decoding: try run("ffprobe", ["-v", "error", "-show_entries", "format=duration",
                                                        "-of", "default=nw=1:nk=1", path]), as: UTF8.self)
        return try XCTUnwrap(Double(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The playable length ffprobe reports: `format=duration` minus a positive `start_time`. ffmpeg 5.1 counts an
    /// MP3's duration from the Xing frame count (all frames, encoder delay and padding included) and reports the
    /// LAME tag's encoder delay as `start_time`; `lame`'s own files read the same way. For Ogg Opus, `start_time` is
    /// the negative pre-skip, already left out of `duration`.
    static func playableDuration(_ path: String) throws -> Double {
        let text = String(decoding: try run("ffprobe", ["-v", "error", "-show_entries", "format=duration,start_time",
                                                        "-of", "default=nw=1", path]), as: UTF8.self)
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = Double(parts[1]) }
        }
        let duration = try XCTUnwrap(values["duration"], text)
        return duration - max(0, values["start_time"] ?? 0)
    }

    /// Format and stream tags as ffprobe reads them, keys lowercased.
    static func tags(_ path: String) throws -> [String: String] {
        let json = try run("ffprobe", ["-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", path])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        var result: [String: String] = [:]
        let format = (object["format"] as? [String: Any])?["tags"] as? [String: String] ?? [:]
        let streams = (object["streams"] as? [[String: Any]] ?? []).compactMap { $0["tags"] as? [String: String] }
        for tags in [format] + streams {
            for (key, value) in tags { result[key.lowercased()] = value }
        }
        return result
    }

    static func samples(_ data: Data) -> [Int16] {
        data.withUnsafeBytes { raw in (0..<raw.count / 2).map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) } }
    }
}

/// A fresh directory per test, removed afterwards.
final class ScratchDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("speakd-encoding-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// A sink that cannot seek, like a pipe or a socket: what encoders must cope with when streaming to a client.
final class StreamOnlySink: EncodedSink {
    let memory = MemorySink(name: "stream")
    var name: String { "stream" }
    var isSeekable: Bool { false }
    var offset: Int { memory.offset }
    func write(_ bytes: UnsafeRawBufferPointer) throws(EncoderError) { try memory.write(bytes) }
    func seek(to offset: Int) throws(EncoderError) { throw EncoderError(.misuse, "stream cannot seek") }
}

extension AudioEncoder {
    /// Feeds `samples` in chunks of the given sizes, cycling through them: codec frames never line up with them.
    func encode(_ samples: [Int16], chunks: [Int]) throws {
        var start = 0, index = 0
        while start < samples.count {
            let end = min(samples.count, start + chunks[index % chunks.count])
            try samples[start..<end].withUnsafeBufferPointer { try encode($0) }
            start = end
            index += 1
        }
    }
}

/// Encodes `samples` to `path` through an AtomicFile, as the daemon and speakd-encode do.
func encodeFile(_ format: ArchiveFormat, _ samples: [Int16], rate: Int, to path: String,
                settings: EncoderSettings = EncoderSettings(), tags: Tags = Tags(),
                chunks: [Int] = [4096]) throws {
    let file = try AtomicFile(path: path)
    let encoder = try format.makeEncoder(input: .init(sampleRate: rate), settings: settings, tags: tags, sink: file.sink)
    try encoder.encode(samples, chunks: chunks)
    try encoder.finish()
    try file.commit()
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
