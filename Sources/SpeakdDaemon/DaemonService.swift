import Dispatch
import Logging
import NIOCore
import ServiceLifecycle
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdAudio
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's one service under swift-service-lifecycle's `ServiceGroup`: listens, tells systemd it is ready, pets
/// the watchdog, serves clients, and on SIGTERM or SIGINT (the group's graceful shutdown) runs the one shutdown path.
///
/// Start: the group registers its signal handlers, and waits until they are in place, before it runs this service;
/// so the socket exists only once a signal can stop the daemon (a SIGTERM sent by the first client is never lost).
/// Shutdown: silence and tell every waiting client (`JobQueue.stop`), stop the audio threads, remove the socket
/// (here only), then stop serving. The group bounds it: after `gracefulPeriod` it cancels, and what cannot be
/// cancelled (waits on the audio thread) is cut by a deadline that ends the process after `cancellationPeriod` more.
///
/// Threading: Sendable; `run` is called once, by the group.
struct DaemonService: Service, CustomStringConvertible {
    static let gracefulPeriod = Duration.seconds(2)
    static let cancellationPeriod = Duration.seconds(1)

    let server: ControlServer
    let queue: JobQueue
    let player: AudioPlayer
    let engines: Engines
    let options: DaemonOptions
    /// The socket systemd passed (socket activation); nil when speakd binds its own.
    let inherited: Int32?
    let notifier: SystemdNotifier?
    let logger: Logger

    /// Never the fields: they hold the options, API keys included.
    var description: String { "speakd" }

    /// Runs `service` until SIGTERM or SIGINT, within the bounded shutdown periods.
    static func runGroup(_ service: DaemonService, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            // Named: the group logs each service's name, and the default (the value's dump) would print the options,
            // API keys included.
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "speakd")],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracefulPeriod
        configuration.maximumCancellationDuration = cancellationPeriod
        try await ServiceGroup(configuration: configuration).run()
    }

    func run() async throws {
        let bound = try await listen()
        let upstreams = engines.upstreams.map { "\($0.name)=\($0.client.configuration.baseURL)" }.joined(separator: ",")
        logger.info("speakd \(speakdVersion) listening", metadata: [
            "socket": "\(inherited.map { "inherited fd \($0)" } ?? options.socketPath)",
            "engine": "\(engines.preferred.engineName)", "upstreams": "\(upstreams.isEmpty ? "none" : upstreams)",
            "device": "\(options.device)\(player.deviceProblem == nil ? "" : " (unavailable for now)")",
        ])
        notifier?.send("READY=1\nSTATUS=Ready: \(engines.preferred.engineName) on \(options.device)")
        let background = startBackgroundTasks()
        defer { background.forEach { $0.cancel() } }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve(bound) }
            // Returns when the group begins its graceful shutdown (a signal); throws if the service is cancelled.
            group.addTask { try await gracefulShutdown() }
            // Whichever ends first: the signal, or the server failing.
            let first: Result<Void, any Error>
            do { _ = try await group.next(); first = .success(()) } catch { first = .failure(error) }
            logger.info("shutting down")
            notifier?.send("STOPPING=1\nSTATUS=Shutting down")
            Self.armShutdownDeadline(logger: logger)
            _ = await queue.stop(reason: "speakd is shutting down")
            player.shutdown()
            removeSocket()
            group.cancelAll()
            try first.get()
        }
    }

    /// The group cancels what can be cancelled; waiting for the audio thread (a control to be applied, a join) cannot
    /// be, so past both periods the process ends here: a daemon asked to stop always stops.
    private static func armShutdownDeadline(logger: Logger) {
        let seconds = (gracefulPeriod + cancellationPeriod).components.seconds
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(seconds))) {
            logger.error("shutdown took longer than \(seconds) s; exiting anyway")
            exit(1)
        }
    }

    /// Binds the socket (or adopts systemd's), with start-up errors that say what to do.
    private func listen() async throws -> NIOAsyncServerChannel {
        do {
            if let inherited { return try await server.adopt(inherited) }
            return try await server.bind()
        } catch let error as SocketFile.Failure {
            throw StartupError(error.description)
        } catch {
            throw StartupError("cannot listen on \(options.socketPath): \(error)")
        }
    }

    /// The one place the socket file is removed: ours only (an inherited socket belongs to systemd, which removes it).
    private func removeSocket() {
        guard inherited == nil else { return }
        if unlink(options.socketPath) != 0, case let error = Errno.current, error != .noSuchFileOrDirectory {
            logger.warning("cannot remove the socket", metadata: ["path": "\(options.socketPath)", "error": "\(error.message)"])
        }
    }

    /// The systemd watchdog, petted only while the job queue answers (a wedged scheduler gets restarted), and the
    /// upstreams' keep-warm connections.
    private func startBackgroundTasks() -> [Task<Void, Never>] {
        var tasks: [Task<Void, Never>] = []
        if let notifier, let interval = notifier.watchdogInterval {
            let queue = queue
            tasks.append(Task {
                while !Task.isCancelled {
                    _ = await queue.snapshot()
                    notifier.send("WATCHDOG=1")
                    try? await Task.sleep(for: interval)
                }
            })
        }
        for upstream in engines.upstreams where upstream.client.configuration.keepWarmSeconds > 0 {
            tasks.append(Task { await ConnectionWarmer(client: upstream.client).run() })
        }
        return tasks
    }
}
