import CoreMetrics
import Prometheus
import SpeakdProtocol
import Synchronization

/// speakd's metrics in Prometheus' text format. Counts jobs from the daemon's own job events (`observe`), reads
/// what the daemon already counts (underruns, phrase-cache hits) from a `MetricsSnapshot` at each scrape, and holds
/// the registry that swift-metrics reports into once `bootstrapMetricsSystem` ran (retries and upstream errors come
/// from `RetryingSynthesizer` that way).
///
/// Names follow Prometheus' conventions: `speakd_` prefix, base units (seconds), `_total` on counters.
///
/// Threading: Sendable; `observe` and `render` may be called from any task or thread, concurrently.
public final class SpeakdMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Bounds of `speakd_time_to_first_sound_seconds`: speakd's first sound is ~50 ms cached or embedded, ~0.3–2 s
    /// from a network upstream.
    public static let firstSoundBuckets: [Duration] = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10]
        .map { .milliseconds(Int($0 * 1_000)) }
    public static let outcomes: [JobState] = [.finished, .cancelled, .failed, .expired]

    private let accepted: Prometheus.Counter
    private let outcomeCounters: [JobState: Prometheus.Counter]
    private let firstSound: DurationHistogram
    private let fallbacks: Prometheus.Counter
    private let underruns: Prometheus.Counter
    private let cacheHits: Prometheus.Counter
    private let cacheMisses: Prometheus.Counter
    private let queueJobs: Prometheus.Gauge
    private let deviceUp: Prometheus.Gauge
    private let paused: Prometheus.Gauge
    /// Jobs accepted and not yet heard: when their `queued` event came (the daemon's monotonic clock).
    private let queuedAt = Mutex<[String: Double]>([:])
    /// What the last snapshot counted, so that counters advance by the difference.
    private let lastCounts = Mutex<MetricsSnapshot.Counts>(.init())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        accepted = registry.makeCounter(descriptor: .init(metricName: "speakd_jobs_accepted_total",
                                                          helpText: "Speak jobs accepted, from every front door"))
        outcomeCounters = Dictionary(uniqueKeysWithValues: Self.outcomes.map { outcome in
            (outcome, registry.makeCounter(descriptor: .init(metricName: "speakd_jobs_total", helpText: "Jobs ended, by outcome"),
                                           labels: [("outcome", outcome.rawValue)]))
        })
        firstSound = registry.makeDurationHistogram(descriptor: .init(
            metricName: "speakd_time_to_first_sound_seconds",
            helpText: "From a job's acceptance to its first sample at the audio device"), buckets: Self.firstSoundBuckets)
        fallbacks = registry.makeCounter(descriptor: .init(metricName: "speakd_fallbacks_total",
                                                           helpText: "Jobs the embedded engine finished after their upstream failed"))
        underruns = registry.makeCounter(descriptor: .init(metricName: "speakd_audio_underruns_total",
                                                           helpText: "Times the device ran dry while a job was still arriving"))
        cacheHits = registry.makeCounter(descriptor: .init(metricName: "speakd_phrase_cache_hits_total",
                                                           helpText: "Segments served from the phrase cache"))
        cacheMisses = registry.makeCounter(descriptor: .init(metricName: "speakd_phrase_cache_misses_total",
                                                             helpText: "Segments looked up in the phrase cache and not found"))
        queueJobs = registry.makeGauge(descriptor: .init(metricName: "speakd_queue_jobs", helpText: "Jobs accepted and not yet finished"))
        deviceUp = registry.makeGauge(descriptor: .init(metricName: "speakd_audio_device_up",
                                                        helpText: "1 while the audio device can be used, 0 while it cannot"))
        paused = registry.makeGauge(descriptor: .init(metricName: "speakd_paused", helpText: "1 while playback is paused"))
        // Present from the start (at 0), so a rate() over them works before the first failure.
        for kind in ["authentication", "rejected", "unavailable", "bad_audio", "engine"] {
            // No help text: swift-metrics registers these without one too, and the registry wants them equal.
            _ = registry.makeCounter(descriptor: .init(metricName: "speakd_upstream_errors_total"), labels: [("kind", kind)])
        }
        _ = registry.makeCounter(descriptor: .init(metricName: "speakd_upstream_retries_total"))
    }

    /// Makes swift-metrics report into this registry (once per process; speakd's `Daemon` calls it).
    public func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// Counts one job event (the daemon's `EventHub` sends every job's).
    public func observe(_ event: Event) {
        guard event.event == .job, let job = event.job, let state = event.state else { return }
        switch state {
        case .queued:
            accepted.increment()
            queuedAt.withLock { $0[job] = event.time }
        case .started:
            if let since = queuedAt.withLock({ $0.removeValue(forKey: job) }) {
                firstSound.record(.nanoseconds(Int64(max(event.time - since, 0) * 1e9)))
            }
        case .finished, .cancelled, .failed, .expired:
            queuedAt.withLock { _ = $0.removeValue(forKey: job) }
            outcomeCounters[state]?.increment()
            // The queue names the fallback in the final event's reason ("X failed, so espeak-ng spoke instead").
            if state == .finished, event.reason?.contains("spoke instead") == true { fallbacks.increment() }
        default:
            break
        }
    }

    /// The exposition text (format 0.0.4) after bringing the snapshot's values in.
    public func render(_ snapshot: MetricsSnapshot) -> String {
        queueJobs.set(Double(snapshot.queueJobs))
        deviceUp.set(snapshot.deviceUp ? 1.0 : 0.0)
        paused.set(snapshot.paused ? 1.0 : 0.0)
        let (underrunStep, hitStep, missStep) = lastCounts.withLock { last in
            // A counter that went down (the cache was cleared) restarts from its new value.
            func step(_ now: Int, _ before: Int) -> Int { now >= before ? now - before : now }
            let steps = (step(snapshot.counts.underruns, last.underruns), step(snapshot.counts.cacheHits, last.cacheHits),
                         step(snapshot.counts.cacheMisses, last.cacheMisses))
            last = snapshot.counts
            return steps
        }
        if underrunStep > 0 { underruns.increment(by: Int64(underrunStep)) }
        if hitStep > 0 { cacheHits.increment(by: Int64(hitStep)) }
        if missStep > 0 { cacheMisses.increment(by: Int64(missStep)) }
        return registry.emitToString()
    }
}

/// What the daemon knows at a scrape: gauges and its own cumulative counts.
///
/// Threading: a value type; Sendable.
public struct MetricsSnapshot: Sendable {
    public struct Counts: Sendable {
        public var underruns = 0
        public var cacheHits = 0
        public var cacheMisses = 0
        public init(underruns: Int = 0, cacheHits: Int = 0, cacheMisses: Int = 0) {
            self.underruns = underruns
            self.cacheHits = cacheHits
            self.cacheMisses = cacheMisses
        }
    }
    public var queueJobs: Int
    public var deviceUp: Bool
    public var paused: Bool
    public var counts: Counts

    public init(queueJobs: Int, deviceUp: Bool, paused: Bool, counts: Counts) {
        self.queueJobs = queueJobs
        self.deviceUp = deviceUp
        self.paused = paused
        self.counts = counts
    }
}
