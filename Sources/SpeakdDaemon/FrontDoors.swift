import Logging
import SpeakdAudio
import SpeakdHTTP
import SpeakdMetrics
import SpeakdMQTT
import SpeakdProtocol
import Synchronization

/// The daemon as the HTTP and MQTT front doors see it: requests go to the socket's `RequestHandler`, events come
/// from the same `EventHub`, so every door has one set of job semantics.
///
/// Threading: Sendable; called from the doors' tasks concurrently.
final class DaemonBackend: FrontDoorBackend {
    /// Above every id the Unix socket hands out (it counts from 1), so events never reach the wrong door.
    private let nextConnection = Atomic<UInt64>(1 << 48)
    private let handler: RequestHandler
    private let events: EventHub

    init(handler: RequestHandler, events: EventHub) {
        self.handler = handler
        self.events = events
    }

    func handle(_ request: [UInt8], connection: UInt64, origin: String) async -> Reply {
        await handler.handle(request.dropLast(request.last == UInt8(ascii: "\n") ? 1 : 0), connection: connection,
                             origin: origin)
    }

    func register(_ connection: UInt64, everyJob: Bool, send: @escaping @Sendable (Event) -> Void) {
        events.register(connection, send: send)
        if everyJob { events.subscribeAll(connection) }
    }

    func unregister(_ connection: UInt64) { events.unregister(connection) }

    func newConnection() -> UInt64 { nextConnection.add(1, ordering: .relaxed).oldValue }
}

/// Starts what `[http]` and `[mqtt]` turn on, beside the socket. Off by default; a door that cannot start is logged
/// and the daemon serves on without it (the socket still speaks).
///
/// Threading: `start` is called once from `Daemon.serve`; the returned tasks are cancelled at shutdown.
enum FrontDoors {
    static func start(_ options: FrontDoorOptions, backend: DaemonBackend, logger: Logger) -> [Task<Void, Never>] {
        var tasks: [Task<Void, Never>] = []
        if let http = options.http {
            tasks.append(Task {
                do {
                    let door = try HTTPFrontDoor(configuration: http, backend: backend, logger: logger)
                    try await door.run { port in
                        logger.info("HTTP front door listening", metadata: [
                            "address": "\(http.host):\(port)", "tls": "\(http.certificateFile != nil)",
                            "tokens": "\(http.tokens.count)"])
                    }
                } catch {
                    logger.error("HTTP front door stopped", metadata: ["error": "\(error)"])
                }
            })
        }
        if let mqtt = options.mqtt {
            let client = MQTTFrontDoor(configuration: mqtt, backend: backend, logger: logger, version: speakdVersion)
            tasks.append(Task { await client.run() })
        }
        return tasks
    }
}

/// The snapshot `metrics` renders: what the queue, the player and the phrase cache count.
extension RequestHandler {
    static func metricsSnapshot(queue: JobQueue, player: AudioPlayer, engines: Engines) async -> MetricsSnapshot {
        let snapshot = await queue.snapshot()
        let unfinished = await queue.list().count
        let cache = engines.cache?.statistics()
        return MetricsSnapshot(queueJobs: unfinished,
                               deviceUp: player.deviceProblem == nil, paused: snapshot.paused,
                               counts: .init(underruns: player.underruns, cacheHits: cache?.hits ?? 0,
                                             cacheMisses: cache?.misses ?? 0))
    }
}

extension SpeakdMetrics {
    /// The metrics of this process: swift-metrics reports into them, and they count every job's events.
    static func started(events: EventHub) -> SpeakdMetrics {
        let metrics = SpeakdMetrics()
        metrics.bootstrapMetricsSystem()
        // The last connection id there is: no door ever hands it out.
        events.register(.max) { metrics.observe($0) }
        events.subscribeAll(.max)
        return metrics
    }
}
