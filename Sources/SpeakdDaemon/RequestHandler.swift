import AsyncHTTPClient
import Logging
import SpeakdAudio
import SpeakdCache
import SpeakdMetrics
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdText

/// Answers one request line: parses, validates, and hands the operation to the job queue.
///
/// Threading: Sendable; `handle` may run concurrently for many connections.
final class RequestHandler: Sendable {
    private let queue: JobQueue
    private let engines: Engines
    private let events: EventHub
    private let player: AudioPlayer
    private let defaults: JobDefaults
    private let startTime = monotonicSeconds()
    private let logger: Logger
    /// Serves the `metrics` op (and through it `GET /metrics`).
    private let metrics: SpeakdMetrics?
    /// The stream's media.role (reported by `status`).
    private let mediaRole: String
    /// `[chimes]`, and the chimes prepared so far (each source read and converted once).
    private let chimeOptions: ChimeOptions
    private let chimes = Chimes()
    /// The Snapcast output's state for `status`; nil when there is none.
    private let snapcastStatus: (@Sendable () -> SnapcastInfo)?

    init(queue: JobQueue, engines: Engines, events: EventHub, player: AudioPlayer, defaults: JobDefaults, logger: Logger,
         metrics: SpeakdMetrics? = nil, mediaRole: String = "", chimeOptions: ChimeOptions = ChimeOptions(),
         snapcastStatus: (@Sendable () -> SnapcastInfo)? = nil) {
        self.snapcastStatus = snapcastStatus
        self.metrics = metrics
        self.chimeOptions = chimeOptions
        self.mediaRole = mediaRole
        self.logger = logger
        self.queue = queue
        self.engines = engines
        self.events = events
        self.player = player
        self.defaults = defaults
    }

    /// `origin` names a peer of another front door (HTTP, MQTT) in the log, where the socket names its credentials.
    func handle(_ line: some Collection<UInt8>, connection: ConnectionID, peer: PeerCredentials? = nil,
                origin: String? = nil) async -> Reply {
        let request: Request
        switch RequestParser.parse(line, maxInputCharacters: defaults.maxTextCharacters) {
        case .failure(let failure): return .failure(id: failure.id, failure.error)
        case .success(let parsed): request = parsed
        }
        switch request.operation {
        case .speak(let parameters):
            guard await queue.hasRoom else {
                return .failure(id: request.id, ProtocolError(.queueFull, "the queue is full (max_queued_jobs); wait for some jobs to finish, or stop them"))
            }
            let choice: JobEngine
            do throws(ProtocolError) { choice = try engines.choose(for: parameters, defaults: defaults) } catch {
                return .failure(id: request.id, error)
            }
            if let role = parameters.mediaRole, !player.streamRoles.contains(role) {
                let known = player.streamRoles.filter { !$0.isEmpty }.joined(separator: ", ")
                return .failure(id: request.id, ProtocolError(.invalidField, "media_role \"\(role)\" is not one this daemon plays with: \(known), or \"\" for none (a priority's role is set in [media_roles])", field: "media_role"))
            }
            let chimePlan: ChimePlan?
            do throws(ChimeError) {
                chimePlan = try chimeOptions.plan(for: parameters, engine: choice.kind, engines: engines, player: player,
                                                  chimes: chimes, loudness: queue.loudness?.target)
            } catch {
                return .failure(id: request.id, ProtocolError(.invalidField, error.message,
                                                              field: parameters.chime != nil ? "chime" : "chime_after"))
            }
            let job = await queue.submit(parameters, choice: choice, chimes: chimePlan, owner: connection)
            logger.info("job accepted", metadata: ["job": "\(job)", "priority": "\(parameters.priority.rawValue)",
                                                   "characters": "\(parameters.input.unicodeScalars.count)",
                                                   "peer": "\(origin ?? peer.map(String.init(describing:)) ?? "unknown")"])
            return Reply(id: request.id, job: job, engine: choice.engine.engineName)
        case .stop:
            let cancelled = await queue.stop(reason: "stopped by a client")
            return Reply(id: request.id, cancelled: cancelled)
        case .cancel(let job):
            guard let cancelled = await queue.cancel(job, reason: "cancelled by a client") else {
                return .failure(id: request.id, ProtocolError(.unknownJob, "no job \"\(job)\" was ever accepted by this speakd", field: "job"))
            }
            return Reply(id: request.id, cancelled: cancelled)
        case .skip:
            return Reply(id: request.id, cancelled: await queue.skip())
        case .pause:
            await queue.pause()
            return Reply(id: request.id)
        case .resume:
            await queue.resume()
            return Reply(id: request.id)
        case .list:
            return Reply(id: request.id, jobs: await queue.list())
        case .status:
            return Reply(id: request.id, status: await status())
        case .ping:
            return Reply(id: request.id)
        case .subscribe:
            events.subscribeAll(connection)
            return Reply(id: request.id)
        case .cache(let action):
            return await cache(action, id: request.id)
        case .endAtMark(let job, let prefix):
            switch await queue.endAtMark(job, prefix: prefix) {
            case .unknownJob:
                return .failure(id: request.id, ProtocolError(.unknownJob, "no job \"\(job)\" was ever accepted by this speakd", field: "job"))
            case .noMark:
                return Reply(id: request.id)
            case .willEnd(let mark):
                return Reply(id: request.id, mark: mark)
            }
        case .upstreamCheck(let parameters):
            return await checkUpstream(parameters, id: request.id)
        case .metrics:
            guard let metrics else {
                return .failure(id: request.id, ProtocolError(.internalError, "this speakd keeps no metrics"))
            }
            var reply = Reply(id: request.id)
            reply.metrics = metrics.render(await Self.metricsSnapshot(queue: queue, player: player, engines: engines))
            return reply
        }
    }

    private func cache(_ action: CacheAction, id: JSONValue) async -> Reply {
        guard let cache = engines.cache else {
            return Reply(id: id, cache: CacheInfo(enabled: false))
        }
        switch action {
        case .stats:
            return Reply(id: id, cache: Self.info(cache))
        case .clear:
            let removed = cache.clear()
            logger.info("phrase cache cleared", metadata: ["entries": "\(removed.entries)", "bytes": "\(removed.bytes)"])
            var info = Self.info(cache)
            info.removed = removed.entries
            return Reply(id: id, cache: info)
        case .warm(let phrases, let parameters):
            let upstream: Engines.Upstream
            do { upstream = try engines.resolve(named: parameters.upstream ?? engines.defaultUpstream ?? "") } catch {
                return .failure(id: id, error)
            }
            let engine = upstream.cachingSynthesizer(in: cache)
            let voice = parameters.voice ?? upstream.voice ?? defaults.voice
            let model = parameters.model ?? upstream.model ?? defaults.model
            var synthesized = 0, alreadyCached = 0, failed = 0
            var firstFailure: String?
            // The same segmentation as a speak job, so the phrase spoken later finds every one of its segments.
            for phrase in phrases {
                var phraseFailed = false, phraseSynthesized = false
                for segment in TextSegmenter().segments(of: phrase) {
                    // The speed the upstream will be asked for when this phrase is spoken (the rest is stretched).
                    let speed = parameters.speed.map { upstream.speed.upstreamSpeed(for: $0) } ?? nil
                    let request = SynthesisRequest(input: segment, voice: voice, model: model,
                                                   instructions: parameters.instructions, speed: speed)
                    guard cache.admits(segment) else {
                        // Never cached, so warming it would be a request for nothing: say so instead.
                        phraseFailed = true
                        firstFailure = firstFailure ?? "a segment of \(segment.unicodeScalars.count) characters is longer than the cache keeps ([cache] max_text_length = \(cache.settings.maximumTextCharacters))"
                        continue
                    }
                    guard !cache.contains(engine.key(for: request)) else { continue }
                    do {
                        try await engine.fill(request)
                        phraseSynthesized = true
                    } catch {
                        phraseFailed = true
                        firstFailure = firstFailure ?? "\(error)"
                    }
                }
                if phraseFailed { failed += 1 } else if phraseSynthesized { synthesized += 1 } else { alreadyCached += 1 }
            }
            cache.waitForPendingStores()
            logger.info("phrase cache warmed", metadata: ["synthesized": "\(synthesized)", "already": "\(alreadyCached)",
                                                           "failed": "\(failed)"])
            var info = Self.info(cache)
            info.synthesized = synthesized
            info.alreadyCached = alreadyCached
            info.failed = failed
            info.firstFailure = firstFailure
            return Reply(id: id, cache: info)
        }
    }

    /// `upstream_check`: probes the upstream with its own key and settings (see `UpstreamCheck`).
    private func checkUpstream(_ parameters: UpstreamCheckParameters, id: JSONValue) async -> Reply {
        guard let name = parameters.upstream ?? engines.defaultUpstream else {
            return .failure(id: id, ProtocolError(.invalidField, "no upstream is configured: speakd speaks with its embedded engine only", field: "upstream"))
        }
        let upstream: Engines.Upstream
        do { upstream = try engines.resolve(named: name) } catch { return .failure(id: id, error) }
        let check = UpstreamCheck(name: name, configuration: upstream.client.configuration, http: upstream.http,
                                  voice: parameters.voice ?? upstream.voice ?? defaults.voice,
                                  model: parameters.model ?? upstream.model ?? defaults.model)
        logger.info("checking an upstream", metadata: ["upstream": "\(name)"])
        var reply = Reply(id: id)
        reply.report = await check.run()
        return reply
    }

    private static func info(_ cache: PhraseCache) -> CacheInfo {
        let stats = cache.statistics()
        return CacheInfo(enabled: true, directory: stats.directory, entries: stats.entries, bytes: stats.bytes,
                         maximumBytes: stats.maximumBytes, hits: stats.hits, misses: stats.misses,
                         repaired: stats.repaired, storingPaused: stats.storingPausedBecause)
    }

    private func status() async -> StatusInfo {
        let snapshot = await queue.snapshot()
        var info = StatusInfo(version: speakdVersion, protocol: speakdProtocolVersion, engine: engines.preferred.engineName,
                          upstream: engines.defaultUpstream.flatMap { engines.upstream(named: $0)?.client.configuration.baseURL },
                          device: player.deviceName, currentJob: snapshot.currentJob, position: snapshot.position,
                          currentEngine: snapshot.engine, paused: snapshot.paused, queued: snapshot.queued,
                          underruns: player.underruns, uptimeSeconds: monotonicSeconds() - startTime,
                          deviceError: player.deviceProblem?.description)
        let pacing = engines.upstreams.flatMap { $0.performance.pacingNotes }
        info.pacing = pacing.isEmpty ? nil : pacing
        info.leadInMilliseconds = queue.leadIn.milliseconds
        info.leadInAfterIdleMilliseconds = queue.leadIn.afterIdleMilliseconds
        info.keepOpenMilliseconds = player.keepOpenMilliseconds
        info.deviceOpen = player.deviceOpen
        info.mediaRole = mediaRole.isEmpty ? nil : mediaRole
        info.snapcast = snapcastStatus?()
        return info
    }
}

/// Defaults applied to jobs that do not choose.
struct JobDefaults: Sendable {
    var voice: String
    var model: String
    var embeddedVoice: String
    /// Jobs of these priorities fall back to the embedded engine when their upstream fails.
    var fallbackPriorities: Set<JobPriority> = [.important, .message]
    /// `[limits] max_text_characters`.
    var maxTextCharacters = SpeechLimits.jobInputMaxCharacters
}

/// The engines this daemon has: the configured upstreams, and the embedded engine when it initialised.
///
/// Threading: a value type; Sendable.
struct Engines: Sendable {
    struct Upstream: Sendable {
        var name: String
        var client: OpenAISpeechClient
        var http: HTTPClient
        var model: String?
        var voice: String?
        var cache: PhraseCache?
        /// The speeds it accepts, configured or learned for the daemon's life (shared by every job).
        var speed: UpstreamSpeed
        var logger: Logger
        /// What speakd has learned of this upstream's speed (time to first byte, delivery rate).
        var performance: UpstreamPerformance

        /// The client with bounded retries of failures worth retrying, behind the phrase cache when there is one,
        /// and speed adaptation outside both (the cache holds audio at the speed the upstream was asked for).
        var synthesizer: any Synthesizer { synthesizer(useCache: true) }

        func synthesizer(useCache: Bool) -> any Synthesizer {
            let inner: any Synthesizer = if useCache, let cache { cachingSynthesizer(in: cache) } else { RetryingSynthesizer(client) }
            return SpeedAdaptingSynthesizer(inner, speed: speed, logger: logger)
        }

        /// Retries behind the cache: a lookup happens once, before any try.
        func cachingSynthesizer(in cache: PhraseCache) -> CachingSynthesizer {
            CachingSynthesizer(RetryingSynthesizer(client), cache: cache, upstream: client.configuration.baseURL,
                               sampleRateOverride: client.configuration.sampleRateOverride,
                               channelsOverride: client.configuration.channelsOverride)
        }
    }

    var upstreams: [Upstream] = []
    /// Shared by every upstream (the key names the upstream); nil when off.
    var cache: PhraseCache?
    var defaultUpstream: String?
    var embedded: EspeakSynthesizer?

    func upstream(named name: String) -> Upstream? { upstreams.first { $0.name == name } }

    /// Serves jobs that name no upstream: the default upstream if any, else the embedded engine. `Daemon`
    /// guarantees one exists.
    var preferred: any Synthesizer { defaultUpstream.flatMap { upstream(named: $0)?.synthesizer } ?? embedded! }

    func shutdown() async {
        // Entries being written are finished (each is fsynced and renamed), so what was heard is cached.
        cache?.waitForPendingStores()
        for upstream in upstreams { try? await upstream.http.shutdown() }
    }
}
