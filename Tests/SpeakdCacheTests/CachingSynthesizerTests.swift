import XCTest
import SpeakdCore
import SpeakdSynthesis
@testable import SpeakdCache

final class CachingSynthesizerTests: XCTestCase {
    private func collect(_ engine: any Synthesizer, _ request: SynthesisRequest) async throws -> [Int16] {
        var samples: [Int16] = []
        try await engine.synthesize(request) { chunk in samples += chunk.samples }
        return samples
    }

    func testASecondIdenticalRequestIsServedFromTheCacheWithTheSameSamples() async throws {
        let directory = try CacheDirectory()
        let upstream = CountingEngine(audio: Speech.samples(seconds: 1.2))
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        let engine = CachingSynthesizer(upstream, cache: cache, upstream: "http://127.0.0.1/v1", sampleRateOverride: nil)
        let first = try await collect(engine, Speech.request("Link."))
        cache.waitForPendingStores()
        let second = try await collect(engine, Speech.request("Link."))
        XCTAssertEqual(upstream.calls, 1)
        XCTAssertEqual(first, upstream.audio)
        XCTAssertEqual(second, upstream.audio)
        _ = try await collect(engine, Speech.request("Link.", voice: "alloy"))
        XCTAssertEqual(upstream.calls, 2, "another voice must miss")
        cache.waitForPendingStores()
    }

    func testAFailedOrCancelledSynthesisIsNeverStored() async throws {
        let directory = try CacheDirectory()
        let upstream = CountingEngine(audio: Speech.samples(seconds: 1))
        upstream.failAfter = 10_000
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        let engine = CachingSynthesizer(upstream, cache: cache, upstream: "http://127.0.0.1/v1", sampleRateOverride: nil)
        do {
            _ = try await collect(engine, Speech.request("Cut short."))
            XCTFail("the failure must reach the caller")
        } catch let error as SynthesisError {
            XCTAssertEqual(error.kind, .badAudio)
        }
        upstream.failAfter = nil
        let task = Task {
            try await engine.synthesize(Speech.request("Cancelled.")) { _ in
                withUnsafeCurrentTask { $0?.cancel() }
                throw CancellationError()
            }
        }
        _ = await task.result
        cache.waitForPendingStores()
        XCTAssertEqual(cache.statistics().entries, 0)
        XCTAssertEqual(directory.entryFiles(), [])
    }

    func testLongSegmentsBypassTheCache() async throws {
        let directory = try CacheDirectory()
        let upstream = CountingEngine(audio: Speech.samples(seconds: 0.5))
        let cache = try PhraseCache(settings: .init(directory: directory.path, maximumTextCharacters: 20), logger: .test)
        let engine = CachingSynthesizer(upstream, cache: cache, upstream: "http://127.0.0.1/v1", sampleRateOverride: nil)
        let long = String(repeating: "word ", count: 10)
        _ = try await collect(engine, Speech.request(long))
        cache.waitForPendingStores()
        _ = try await collect(engine, Speech.request(long))
        XCTAssertEqual(upstream.calls, 2)
        XCTAssertEqual(cache.statistics().misses, 0, "a bypassed segment is not a lookup")
    }

    /// An upstream at 22.05 kHz is cached and played back at 22.05 kHz.
    func testTheUpstreamsRateIsKept() async throws {
        let directory = try CacheDirectory()
        let upstream = CountingEngine(audio: Speech.samples(seconds: 0.7, rate: 22_050))
        upstream.format = PCMFormat(sampleRate: 22_050)
        let cache = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        let engine = CachingSynthesizer(upstream, cache: cache, upstream: "http://127.0.0.1/v1", sampleRateOverride: nil)
        _ = try await collect(engine, Speech.request("Rate."))
        cache.waitForPendingStores()
        let fresh = try PhraseCache(settings: .init(directory: directory.path), logger: .test)
        XCTAssertEqual(fresh.lookup(engine.key(for: Speech.request("Rate.")))?.format, PCMFormat(sampleRate: 22_050))
    }
}
