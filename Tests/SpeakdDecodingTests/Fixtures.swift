import Foundation
import SpeakdCore
import SpeakdDecoding
import SpeakdTestSupport
import XCTest

/// Test audio, the reference encoders (the command-line tools of each format), and decoding in chosen pieces.
enum Fixtures {
    /// `seconds` of a sine at `hertz`; every channel carries it, the right one at half amplitude (so a swap shows).
    static func tone(_ hertz: Double, format: PCMFormat, seconds: Double, amplitude: Double = 8_000) -> [Int16] {
        let frames = Int(seconds * Double(format.sampleRate))
        var samples: [Int16] = []
        samples.reserveCapacity(frames * format.channels)
        for frame in 0..<frames {
            let value = amplitude * sin(2 * .pi * hertz * Double(frame) / Double(format.sampleRate))
            for channel in 0..<format.channels { samples.append(Int16((channel == 0 ? value : value / 2).rounded())) }
        }
        return samples
    }

    static func littleEndianBytes(_ samples: [Int16]) -> [UInt8] {
        samples.withUnsafeBytes { Array($0) }
    }

    /// Encodes s16le PCM with a reference tool (reading standard input, writing standard output).
    static func encode(_ samples: [Int16], format: PCMFormat, as container: String) throws -> [UInt8] {
        let rate = format.sampleRate, channels = format.channels
        let (tool, arguments): (String, [String]) = switch container {
        case "mp3": ("/usr/bin/lame", ["--quiet", "-r", "-s", "\(Double(rate) / 1000)", "--signed", "--little-endian", "--bitwidth", "16",
                                       "-m", channels == 1 ? "m" : "j", "-b", "160", "-", "-"])
        case "opus": ("/usr/bin/opusenc", ["--quiet", "--raw", "--raw-rate", "\(rate)", "--raw-chan", "\(channels)", "--bitrate", "128", "-", "-"])
        case "flac": ("/usr/bin/flac", ["--silent", "--force-raw-format", "--endian=little", "--sign=signed", "--channels=\(channels)",
                                        "--bps=16", "--sample-rate=\(rate)", "-o", "-", "-"])
        case "wav": ("/usr/bin/ffmpeg", ["-v", "error", "-f", "s16le", "-ar", "\(rate)", "-ac", "\(channels)", "-i", "-", "-f", "wav", "-"])
        default: fatalError("no encoder for \(container)")
        }
        let process = try Subprocess(tool, arguments, stdin: .data(Data(littleEndianBytes(samples))))
        let result = process.finishData()
        guard result.status == 0, !result.stdout.isEmpty else {
            throw SubprocessError("\(tool) failed: \(String(decoding: result.stderr, as: UTF8.self))")
        }
        return Array(result.stdout)
    }

    /// Decodes `bytes` pushed in pieces of the given sizes (cycled), merging the runs; fails on a format change.
    static func decode(_ bytes: [UInt8], label: AudioLabel, pieces: [Int] = [4_096]) throws -> DecodedPCM {
        let decoder = UpstreamAudioDecoder(label: label)
        var runs: [DecodedPCM] = []
        var offset = 0, index = 0
        while offset < bytes.count {
            let size = min(pieces[index % pieces.count], bytes.count - offset)
            runs += try decoder.push(Array(bytes[offset..<(offset + size)]))
            offset += size
            index += 1
        }
        runs += try decoder.finish()
        guard let first = runs.first else { return DecodedPCM(format: decoder.format, samples: []) }
        XCTAssertTrue(runs.allSatisfy { $0.format == first.format }, "the format changed mid-stream")
        return DecodedPCM(format: first.format, samples: runs.flatMap(\.samples))
    }

    /// Random piece sizes from 1 byte to 3 KiB, reproducible from `seed`.
    static func randomPieces(seed: UInt64, count: Int = 500) -> [Int] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let draw = Int(state >> 33)
            return draw % 4 == 0 ? 1 + draw % 7 : 1 + draw % 3_072
        }
    }

    /// Channel `channel` of interleaved samples.
    static func channel(_ channel: Int, of samples: [Int16], channels: Int) -> [Double] {
        stride(from: channel, to: samples.count, by: channels).map { Double(samples[$0]) }
    }

    /// Normalized correlation of `a` shifted by `lag` against `b` over their overlap.
    static func correlation(_ a: [Double], _ b: [Double], lag: Int, window: Int = .max) -> Double {
        let count = min(a.count - lag, b.count, window)
        guard count > 100 else { return 0 }
        var dot = 0.0, aa = 0.0, bb = 0.0
        for index in 0..<count {
            let x = a[index + lag], y = b[index]
            dot += x * y; aa += x * x; bb += y * y
        }
        return dot / max((aa * bb).squareRoot(), 1)
    }

    /// The lag (decoded behind the source, 0…maxLag) with the best correlation, and that correlation.
    static func bestLag(decoded: [Double], source: [Double], maxLag: Int) -> (lag: Int, correlation: Double) {
        var best = (lag: 0, correlation: -1.0)
        for lag in 0...maxLag {
            let value = correlation(decoded, source, lag: lag, window: 4_096)
            if value > best.correlation { best = (lag, value) }
        }
        return best
    }
}
