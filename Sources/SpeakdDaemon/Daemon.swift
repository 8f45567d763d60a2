import AsyncHTTPClient
import NIOCore
import Dispatch
import Logging
import SpeakdAudio
import SpeakdCache
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Wires the pipeline together and serves until SIGTERM or SIGINT.
///
/// Threading: `run` is called once, from the main task.
public enum Daemon {
    public static func run(_ options: DaemonOptions, logger: Logger) async throws {
        let environment = processEnvironment()
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

        let output = ALSAOutput(deviceName: options.device, periodMicroseconds: options.periodMicroseconds,
                                bufferMicroseconds: options.bufferMicroseconds)
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        if let error = player.realtimePriorityError {
            logger.notice("audio thread at normal priority (real-time priority \(AudioPlayer.realtimePriority) refused: \(Errno(rawValue: error).message)); a busy machine may cause underruns. Grant it with LimitRTPRIO=\(AudioPlayer.realtimePriority) (systemd) or CAP_SYS_NICE")
        } else {
            logger.info("audio thread at real-time priority \(AudioPlayer.realtimePriority) (SCHED_FIFO)")
        }
        probeDevice(options, player: player, logger: logger)
        let events = EventHub()
        let archiver = Archiver(options: options.archive, events: events, logger: logger)
        archiver.removeStalePartials()
        let queue = JobQueue(player: player, events: events, logger: logger, archiver: archiver,
                             maximumJobs: options.maxQueuedJobs)
        let handler = RequestHandler(queue: queue, engines: engines, events: events, player: player,
                                     defaults: JobDefaults(voice: options.voice, model: options.model,
                                                           embeddedVoice: options.embeddedVoice,
                                                           fallbackPriorities: options.fallbackPriorities,
                                                           maxTextCharacters: options.maxTextCharacters),
                                     logger: logger)
        let server = ControlServer(path: options.socketPath, handler: handler, events: events, logger: logger,
                                   accessList: options.accessList, maximumConnections: options.maxConnections,
                                   maximumLineBytes: options.maxLineBytes, maximumUnreadBytes: options.maxUnreadBytes)
        // Signals are handled before the socket exists: a client that can connect can also stop us. (Set up after
        // bind, a SIGTERM sent by the first client fell between SIG_IGN and the source's resume and was lost.)
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.info("shutting down", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                notifier?.send("STOPPING=1\nSTATUS=Shutting down")
                // Silence, tell every waiting client, remove the socket, then exit. The process ends here rather
                // than unwinding SwiftNIO: connections accepted but not yet served would trap in its teardown, and
                // the kernel closes every open connection anyway. A stuck step cannot hold the exit back for long.
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(3)) {
                    logger.error("shutdown took longer than 3 s; exiting anyway")
                    exit(1)
                }
                Task {
                    _ = await queue.stop(reason: "speakd is shutting down")
                    player.shutdown()
                    if inherited == nil { unlink(options.socketPath) }
                    await engines.shutdown()
                    exit(0)
                }
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        waitUntilCaught([SIGTERM, SIGINT])

        let bound: NIOAsyncServerChannel
        do {
            if let inherited { bound = try await server.adopt(inherited) } else { bound = try await server.bind() }
        } catch let error as SocketFile.Failure {
            throw StartupError(error.description)
        } catch {
            throw StartupError("cannot listen on \(options.socketPath): \(error)")
        }
        // An inherited socket belongs to systemd, which removes it; our own we remove.
        defer { if inherited == nil { unlink(options.socketPath) } }


        let upstreams = engines.upstreams.map { "\($0.name)=\($0.client.configuration.baseURL)" }.joined(separator: ",")
        logger.info("speakd \(speakdVersion) listening", metadata: [
            "socket": "\(inherited == nil ? options.socketPath : "inherited fd \(inherited!)")",
            "engine": "\(engines.preferred.engineName)", "upstreams": "\(upstreams.isEmpty ? "none" : upstreams)",
            "device": "\(options.device)\(player.deviceProblem == nil ? "" : " (unavailable for now)")",
        ])
        notifier?.send("READY=1\nSTATUS=Ready: \(engines.preferred.engineName) on \(options.device)")
        let watchdog = notifier.flatMap { notifier in
            notifier.watchdogInterval.map { interval in
                Task {
                    // Pet the watchdog only while the job queue answers: a wedged scheduler gets restarted.
                    while !Task.isCancelled {
                        _ = await queue.snapshot()
                        notifier.send("WATCHDOG=1")
                        try? await Task.sleep(for: interval)
                    }
                }
            }
        }
        defer { watchdog?.cancel() }
        // Upstreams with keep_warm keep a pooled connection open between jobs.
        let warmers = engines.upstreams.filter { $0.client.configuration.keepWarmSeconds > 0 }.map { upstream in
            Task { await ConnectionWarmer(client: upstream.client).run() }
        }
        defer { warmers.forEach { $0.cancel() } }
        try await server.serve(bound)
        _ = await queue.stop(reason: "speakd is shutting down")
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

/// libdispatch installs a signal source's handler asynchronously after `resume()`; until then the signal is
/// ignored (SIG_IGN) and would be lost. Waits, briefly, until the handlers are in place.
private func waitUntilCaught(_ signals: [Int32]) {
    for _ in 0..<1_000 {
        let caught = signals.allSatisfy { number in
            var current = sigaction()
            sigaction(number, nil, &current)
            // SIG_IGN is the handler value 1 (SIG_DFL is 0): anything else is a handler.
            let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
            return handler != 1
        }
        if caught { return }
        usleep(100)
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
