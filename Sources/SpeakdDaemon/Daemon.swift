import AsyncHTTPClient
import NIOCore
import Logging
import SpeakdAudio
import SpeakdCache
import SpeakdCore
import SpeakdMetrics
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Wires the pipeline together and serves until SIGTERM or SIGINT (`DaemonService`).
///
/// Threading: `run` is called once, from the main task.
public enum Daemon {
    public static func run(_ options: DaemonOptions, logger: Logger) async throws {
        let environment = processEnvironment()
        // SIGHUP (a closed terminal, `kill -HUP`, a reload) must not end a daemon by its default action; the HTTPS
        // front door, when configured, reloads its certificate on it (TLSFiles).
        signal(SIGHUP, SIG_IGN)
        raiseDescriptorLimit()
        let notifier = SystemdNotifier(environment: environment)
        let inherited = SocketActivation.inheritedSockets(environment: environment)
        let engines = try makeEngines(options, logger: logger)
        do {
            try await serve(options, engines: engines, inherited: inherited.first, notifier: notifier, logger: logger)
        } catch {
            await engines.shutdown()
            throw error
        }
        await engines.shutdown()
    }

    private static func serve(_ options: DaemonOptions, engines: Engines, inherited: Int32?,
                              notifier: SystemdNotifier?, logger: Logger) async throws {

        let outputs = try makeOutputs(options, logger: logger)
        defer { outputs.house?.shutdown() }   // after the player's (defers run in reverse)
        StreamRole.prepare(options.streamRoles, initial: options.mediaRole)
        let player = try AudioPlayer(output: outputs.output, deviceFormat: options.deviceFormat,
                                     keepOpenMilliseconds: options.keepOpenMilliseconds, streamRoles: options.streamRoles)
        defer { player.shutdown() }
        if let error = player.realtimePriorityError {
            logger.notice("audio thread at normal priority (real-time priority \(AudioPlayer.realtimePriority) refused: \(Errno(rawValue: error).message)); a busy machine may cause underruns. Grant it with LimitRTPRIO=\(AudioPlayer.realtimePriority) (systemd) or CAP_SYS_NICE")
        } else {
            logger.info("audio thread at real-time priority \(AudioPlayer.realtimePriority) (SCHED_FIFO)")
        }
        if outputs.local { probeDevice(options, player: player, logger: logger) }
        let events = EventHub()
        let metrics = SpeakdMetrics.started(events: events)
        let archiver = Archiver(options: options.archive, events: events, logger: logger)
        archiver.removeStalePartials()
        let queue = JobQueue(player: player, events: events, logger: logger, archiver: archiver,
                             maximumJobs: options.maxQueuedJobs,
                             loudness: options.loudness.map { LearnedLoudness(target: $0, path: LearnedLoudness.defaultPath()) },
                             leadIn: options.leadIn, mediaRoles: options.mediaRoles)
        var snapcastStatus: (@Sendable () -> SnapcastInfo)?
        if let house = outputs.house { snapcastStatus = { house.info } }
        let handler = RequestHandler(queue: queue, engines: engines, events: events, player: player,
                                     defaults: JobDefaults(voice: options.voice, model: options.model,
                                                           embeddedVoice: options.embeddedVoice,
                                                           fallbackPriorities: options.fallbackPriorities,
                                                           maxTextCharacters: options.maxTextCharacters),
                                     logger: logger, metrics: metrics, mediaRole: options.mediaRole,
                                     chimeOptions: options.chimes, snapcastStatus: snapcastStatus)
        let server = ControlServer(path: options.socketPath, handler: handler, events: events, logger: logger,
                                   accessList: options.accessList, maximumConnections: options.maxConnections,
                                   maximumLineBytes: options.maxLineBytes, maximumUnreadBytes: options.maxUnreadBytes)
        // [http] and [mqtt]: the same handler and events behind other doors (off unless configured).
        let doors = FrontDoors.start(options.frontDoors, backend: DaemonBackend(handler: handler, events: events), logger: logger)
        defer { doors.forEach { $0.cancel() } }
        // Signals (SIGTERM, SIGINT) and the one shutdown path: `DaemonService`.
        try await DaemonService.runGroup(DaemonService(server: server, queue: queue, player: player, engines: engines,
                                                       options: options, inherited: inherited, notifier: notifier,
                                                       logger: logger), logger: logger)
    }

    /// Opens and closes the device once at start-up, so that a missing device is reported now (log, `status`)
    /// rather than by the first announcement. The daemon starts either way: the audio thread tries again for every
    /// job, so speech resumes as soon as the sound server or card is back. A separate output object, so the audio
    /// thread's own stays its alone.
    private static func probeDevice(_ options: DaemonOptions, player: AudioPlayer, logger: Logger) {
        let probe = ALSAOutput(deviceName: options.device, periodMicroseconds: options.periodMicroseconds,
                               bufferMicroseconds: options.bufferMicroseconds)
        do {
            try probe.open(format: .openAISpeech)
            probe.close()
        } catch {
            player.reportUnavailableDevice(error)
            logger.warning("audio device unavailable; speakd starts anyway and tries again for every job",
                           metadata: ["error": "\(error)"])
        }
    }

    private static func makeEngines(_ options: DaemonOptions, logger: Logger) throws -> Engines {
        var engines = Engines()
        let wantUpstream: Bool = switch options.engine {
        case .auto: !options.upstreams.isEmpty
        case .openai: true
        case .espeak: false
        }
        if wantUpstream {
            engines.cache = makeCache(options.cache, logger: logger)
            var upstreams = options.upstreams
            if upstreams.isEmpty {
                upstreams = [NamedUpstream(name: "openai", configuration: UpstreamConfiguration())]
            }
            for upstream in upstreams {
                let configuration = upstream.configuration
                if configuration.apiKey == nil, configuration.baseURL == UpstreamConfiguration.openAIBaseURL {
                    logger.warning("no API key for OpenAI: set OPENAI_API_KEY or --api-key-file; it will refuse every request",
                                   metadata: ["upstream": "\(upstream.name)"])
                }
                let http = OpenAISpeechClient.makeHTTPClient(for: configuration)
                engines.upstreams.append(Engines.Upstream(
                    name: upstream.name, client: OpenAISpeechClient(configuration: configuration, http: http, logger: logger),
                    http: http, model: upstream.model, voice: upstream.voice, cache: engines.cache,
                    speed: UpstreamSpeed(configured: configuration.speedRange), logger: logger,
                    performance: UpstreamPerformance(name: upstream.name,
                                                     path: UpstreamPerformance.defaultPath(upstream: upstream.name),
                                                     concurrentRequests: configuration.concurrentRequests)))
            }
            engines.defaultUpstream = options.defaultUpstream ?? upstreams[0].name
        }
        do {
            engines.embedded = try EspeakSynthesizer(defaultVoice: options.embeddedVoice)
        } catch {
            if !wantUpstream { throw StartupError("no engine: \(error)") }
            logger.warning("embedded engine unavailable", metadata: ["error": "\(error)"])
        }
        return engines
    }
}

/// The phrase cache, or nil when it is off or its directory cannot be used (speakd then runs without one: a cache
/// is an optimisation, never a reason not to speak).
private func makeCache(_ options: CacheOptions, logger: Logger) -> PhraseCache? {
    guard options.enabled else { return nil }
    guard let directory = options.directory else {
        logger.warning("phrase cache off: no cache directory (set CACHE_DIRECTORY, XDG_CACHE_HOME or HOME, or --cache-dir)")
        return nil
    }
    do {
        let cache = try PhraseCache(settings: .init(directory: directory, maximumBytes: options.maximumMegabytes * 1_048_576,
                                                    maximumTextCharacters: options.maximumTextCharacters,
                                                    memoryBytes: options.memoryMegabytes * 1_048_576), logger: logger)
        let stats = cache.statistics()
        logger.info("phrase cache ready", metadata: ["directory": "\(directory)", "entries": "\(stats.entries)",
                                                      "bytes": "\(stats.bytes)"])
        return cache
    } catch {
        logger.warning("phrase cache off", metadata: ["error": "\(error)"])
        return nil
    }
}

/// Lifts the soft limit on open descriptors to the hard one: each client connection is one, and the default soft
/// limit (1,024) would otherwise make accept fail below max_connections.
private func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = min(limit.rlim_max, 65_536)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

typealias NIOAsyncServerChannel = NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
