import Logging
import SpeakdCore
import SpeakdProcessing

/// Honours every speed of the contract (0.25–4×) on an upstream that accepts less, or none: asks the upstream for
/// the nearest speed it takes (`UpstreamSpeed`) and time-stretches what it sends by the remainder (`TimeStretch`,
/// chunk by chunk as audio arrives, flushed at the end of the segment). A refusal that names speed teaches the
/// range and the request is made again at once, clamped: it is neither a failure nor a reason for the fallback voice.
/// A server that ignores speed is recognised by the length of its audio (`UpstreamSpeed.observe`).
///
/// Sits outside the phrase cache, so the cache holds audio at the speed the upstream was asked for, and one entry
/// serves every listener speed beyond the upstream's range.
///
/// Threading: Sendable; `synthesize` may run concurrently from several tasks (each call has its own stretcher).
public struct SpeedAdaptingSynthesizer: Synthesizer {
    public let base: any Synthesizer
    public let speed: UpstreamSpeed
    private let logger: Logger?
    public var engineName: String { base.engineName }

    /// Refusals followed in one call before giving up (each narrows the range, so two are the most a sane server needs).
    static let maximumRelearning = 3
    /// Remainders this close to 1 are played as they come.
    static let negligibleRemainder = 0.005

    public init(_ base: any Synthesizer, speed: UpstreamSpeed, logger: Logger? = nil) {
        self.base = base
        self.speed = speed
        self.logger = logger
    }

    public func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        let wanted = request.speed ?? 1.0
        var relearned = 0
        while true {
            let asked = speed.upstreamSpeed(for: wanted)
            var upstreamRequest = request
            // A request that names no speed keeps naming none while the upstream's default is what is wanted.
            upstreamRequest.speed = request.speed == nil && asked == 1.0 ? nil : asked
            var delivered = false
            do {
                let frames = try await Self.stretching(by: wanted / (asked ?? 1.0)) { chunk in
                    delivered = true
                    try await deliver(chunk)
                } run: { stretched in
                    try await base.synthesize(upstreamRequest, deliver: stretched)
                }
                if let seconds = frames, speed.observe(model: request.model, voice: request.voice,
                                                       characters: request.input.count, asked: upstreamRequest.speed,
                                                       seconds: seconds) {
                    logger?.notice("the upstream ignores speed (its audio is as long at any speed); speed is applied locally from now on",
                                   metadata: ["engine": "\(engineName)"])
                }
                return
            } catch let error as SynthesisError where !delivered && relearned < Self.maximumRelearning {
                guard let refusal = error.speedRefusal, let sent = upstreamRequest.speed,
                      speed.learn(refusal, asked: sent) else { throw error }
                relearned += 1
                logger?.notice("the upstream refused speed \(sent); asking for what it takes and stretching the rest locally",
                               metadata: ["range": "\(speed.range)", "reason": "\(error.message)"])
            }
        }
    }

    /// Runs `run`, passing its audio on to `deliver` stretched by `remainder` (wanted / asked speed). Returns the
    /// seconds of audio `run` produced (before stretching), or nil when it changed format midway.
    static func stretching(by remainder: Double, deliver: (AudioChunk) async throws -> Void,
                           run: ((AudioChunk) async throws -> Void) async throws -> Void) async throws -> Double? {
        let stretch = abs(remainder - 1) > negligibleRemainder
            ? TimeStretch(speed: min(max(remainder, TimeStretch.supportedSpeeds.lowerBound), TimeStretch.supportedSpeeds.upperBound))
            : nil
        var format: PCMFormat?
        var frames = 0
        var consistent = true
        // `run` and `deliver` are both non-escaping; this closure only lives for the call of `run`.
        try await withoutActuallyEscaping(deliver) { deliver in try await run { chunk in
            if let format, format != chunk.format { consistent = false }
            if let stretch, let format, format != chunk.format {
                // A format change inside one segment (never seen): what the old format still holds goes first.
                let rest = stretch.flush()
                if !rest.isEmpty { try await deliver(AudioChunk(format: format, samples: rest)) }
            }
            format = chunk.format
            frames += chunk.samples.count / max(chunk.format.channels, 1)
            guard let stretch else { return try await deliver(chunk) }
            let out = stretch.process(chunk.samples, format: chunk.format)
            // Word starts move with the audio: a frame of the input is heard at frame / speed of the output.
            let words = chunk.wordStarts.map { WordStart(textOffset: $0.textOffset, frame: Int((Double($0.frame) / remainder).rounded())) }
            if !out.isEmpty || !words.isEmpty { try await deliver(AudioChunk(format: chunk.format, samples: out, wordStarts: words)) }
        } }
        if let stretch, let format {
            let rest = stretch.flush()
            if !rest.isEmpty { try await deliver(AudioChunk(format: format, samples: rest)) }
        }
        guard consistent, let format else { return nil }
        return format.seconds(frames: frames)
    }
}
