import SpeakdCore
import SpeakdEncoding
import SpeakdSynthesis

/// An upstream with the phrase cache in front: a segment found in the cache is delivered from it with no request
/// (so it plays even when the upstream is unreachable); a segment synthesized completely is stored for next time.
/// A synthesis that fails, is cancelled, or changes format midway is never stored.
///
/// Threading: Sendable; `synthesize` may run concurrently from several tasks (the cache is thread-safe).
public struct CachingSynthesizer: Synthesizer {
    public let base: any Synthesizer
    public let cache: PhraseCache
    /// The upstream's base URL: part of every key (never its API key).
    public let upstream: String
    public let sampleRateOverride: Int?
    public let channelsOverride: Int?
    public var engineName: String { base.engineName }

    public init(_ base: any Synthesizer, cache: PhraseCache, upstream: String, sampleRateOverride: Int?,
                channelsOverride: Int? = nil) {
        self.base = base
        self.cache = cache
        self.upstream = upstream
        self.sampleRateOverride = sampleRateOverride
        self.channelsOverride = channelsOverride
    }

    public func key(for request: SynthesisRequest) -> PhraseCacheKey {
        PhraseCacheKey(upstream: upstream, sampleRateOverride: sampleRateOverride, channelsOverride: channelsOverride,
                       request: request)
    }

    public func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        guard cache.admits(request.input) else {
            try await base.synthesize(request, deliver: deliver)
            return
        }
        let key = key(for: request)
        if let hit = cache.lookup(key) {
            try await deliver(hit)
            return
        }
        try await synthesizeAndStore(request, key: key, deliver: deliver)
    }

    /// Asks the upstream (no lookup, so warming does not count as misses) and stores the result; returns once the
    /// store is queued. Throws what the upstream threw.
    public func fill(_ request: SynthesisRequest) async throws {
        try await synthesizeAndStore(request, key: key(for: request)) { _ in }
    }

    private func synthesizeAndStore(_ request: SynthesisRequest, key: PhraseCacheKey,
                                    deliver: (AudioChunk) async throws -> Void) async throws {
        var format: PCMFormat?
        var samples: [Int16] = []
        var storable = true
        try await base.synthesize(request) { chunk in
            if format == nil { format = chunk.format }
            if chunk.format != format { storable = false }
            if storable { samples += chunk.samples }
            try await deliver(chunk)
        }
        guard storable, let format, !Task.isCancelled else { return }
        cache.store(key, AudioChunk(format: format, samples: samples),
                    tags: Tags(text: request.input, voice: request.voice, model: request.model, engine: base.engineName))
    }
}
