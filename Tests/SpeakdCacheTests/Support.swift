import Foundation
@_exported import SpeakdTestSupport
import Logging
import SpeakdCore
import SpeakdSynthesis
@testable import SpeakdCache

/// A private directory, removed at the end of the test.
final class CacheDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("speakd-cache-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Every entry file, relative to `v1/`.
    func entryFiles() -> [String] {
        let root = path + "/v1"
        return ((try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []).filter { $0.hasSuffix(".flac") }.sorted()
    }

    func filePath(of key: PhraseCacheKey) -> String { path + "/v1/" + key.digest.prefix(2) + "/" + key.digest + ".flac" }
}

enum Speech {
    /// Deterministic speech-like samples, distinct per seed.
    static func samples(seconds: Double, rate: Int = 24_000, seed: Int = 1) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { index in
            let t = Double(index) / Double(rate)
            let tone = sin(2 * .pi * (180 + 40 * Double(seed)) * t) * 0.4 + sin(2 * .pi * 1130 * t) * 0.1
            let envelope = 0.5 + 0.5 * sin(2 * .pi * 4 * t)
            return Int16(tone * envelope * 20_000) &+ Int16(truncatingIfNeeded: (index &* 2_654_435_761 &+ seed) >> 20 & 0xFF)
        }
    }

    static func request(_ text: String, voice: String = "nova") -> SynthesisRequest {
        SynthesisRequest(input: text, voice: voice, model: "gpt-4o-mini-tts")
    }
}

/// An engine that counts its requests and sends fixed audio in chunks of odd sizes, or fails partway.
final class CountingEngine: Synthesizer, @unchecked Sendable {
    let engineName = "openai"
    private let lock = NSLock()
    private var _calls = 0
    var audio: [Int16]
    var format = PCMFormat.openAISpeech
    /// Deliver this many samples, then throw.
    var failAfter: Int?

    init(audio: [Int16]) { self.audio = audio }

    var calls: Int { lock.withLock { _calls } }

    func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        lock.withLock { _calls += 1 }
        var offset = 0
        let sizes = [1, 977, 4_096, 3]
        var turn = 0
        while offset < audio.count {
            if let failAfter, offset >= failAfter {
                throw SynthesisError(.badAudio, "the upstream's body ended early")
            }
            let count = min(sizes[turn % sizes.count], audio.count - offset)
            try await deliver(AudioChunk(format: format, samples: Array(audio[offset..<offset + count])))
            offset += count
            turn += 1
        }
    }
}

extension Logger {
    static let test = Logger(label: "speakd.cache.test")
}
