import CoreMetrics
import SpeakdCore

/// When and how long to wait before trying a failed request again: bounded exponential backoff with jitter, at
/// least what the upstream asked for, and never longer than a listener would still want the speech.
///
/// Threading: a value type; Sendable.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included.
    public var maxAttempts = 4
    public var initialDelaySeconds = 0.25
    public var maximumDelaySeconds = 4.0
    /// An upstream that asks for a longer wait than this is not retried: better the fallback engine now.
    public var longestAcceptableWaitSeconds = 10.0

    public init() {}

    /// The wait before attempt `attempt + 1` after `error` (attempt counts from 1), or nil to give up.
    public func delay(after error: SynthesisError, attempt: Int, random: Double = Double.random(in: 0...1)) -> Double? {
        guard error.isRetryable, attempt < maxAttempts else { return nil }
        let backoff = min(initialDelaySeconds * Double(1 << (attempt - 1)), maximumDelaySeconds)
        // Full-range jitter on the upper half: clients that failed together do not retry together.
        let jittered = backoff * (0.5 + 0.5 * random)
        let wait = max(jittered, error.retryAfterSeconds ?? 0)
        return wait <= longestAcceptableWaitSeconds ? wait : nil
    }
}

/// Retries an engine's request while no audio of it has been delivered and the failure is worth retrying
/// (`RetryPolicy`). Audio already delivered is never requested again: it has been heard.
///
/// Threading: Sendable; `synthesize` may run concurrently from several tasks.
public struct RetryingSynthesizer: Synthesizer {
    public let base: any Synthesizer
    public let policy: RetryPolicy
    public var engineName: String { base.engineName }

    public init(_ base: any Synthesizer, policy: RetryPolicy = RetryPolicy()) {
        self.base = base
        self.policy = policy
    }

    public func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        var attempt = 1
        while true {
            var delivered = false
            do {
                try await base.synthesize(request) { chunk in
                    delivered = true
                    try await deliver(chunk)
                }
                return
            } catch let error as SynthesisError where !delivered {
                // Through swift-metrics: whatever backend the process bootstrapped (speakd: Prometheus) counts them.
                Counter(label: "speakd_upstream_errors_total", dimensions: [("kind", error.kind.metricName)]).increment()
                guard let wait = policy.delay(after: error, attempt: attempt) else { throw error }
                Counter(label: "speakd_upstream_retries_total").increment()
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            }
        }
    }
}

extension SynthesisError.Kind {
    /// The label value of `speakd_upstream_errors_total{kind}` (Prometheus' snake case).
    public var metricName: String { self == .badAudio ? "bad_audio" : rawValue }
}
