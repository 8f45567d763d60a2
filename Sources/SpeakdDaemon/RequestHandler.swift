import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis

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

    init(queue: JobQueue, engines: Engines, events: EventHub, player: AudioPlayer, defaults: JobDefaults) {
        self.queue = queue
        self.engines = engines
        self.events = events
        self.player = player
        self.defaults = defaults
    }

    func handle(_ line: some Collection<UInt8>, connection: ConnectionID) async -> Reply {
        let request: Request
        switch RequestParser.parse(line) {
        case .failure(let failure): return .failure(id: failure.id, failure.error)
        case .success(let parsed): request = parsed
        }
        switch request.operation {
        case .speak(let parameters):
            let engine = engines.preferred
            let voice = parameters.voice ?? (engine is EspeakSynthesizer ? defaults.embeddedVoice : defaults.voice)
            let job = await queue.submit(parameters, engine: engine, voice: voice,
                                         model: parameters.model ?? defaults.model, owner: connection)
            return Reply(id: request.id, job: job, engine: engine.engineName)
        case .stop:
            let cancelled = await queue.stop(reason: "stopped by a client")
            return Reply(id: request.id, cancelled: cancelled)
        case .status:
            return Reply(id: request.id, status: await status())
        case .ping:
            return Reply(id: request.id)
        case .subscribe:
            events.subscribeAll(connection)
            return Reply(id: request.id)
        }
    }

    private func status() async -> StatusInfo {
        StatusInfo(version: speakdVersion, protocol: speakdProtocolVersion, engine: engines.preferred.engineName,
                   upstream: engines.upstream?.configuration.baseURL, device: player.deviceName,
                   currentJob: await queue.currentJobID, queued: await queue.queuedCount,
                   underruns: player.underruns, uptimeSeconds: monotonicSeconds() - startTime)
    }
}

/// Defaults applied to jobs that do not choose.
struct JobDefaults: Sendable {
    var voice: String
    var model: String
    var embeddedVoice: String
}

/// The engines this daemon has: an upstream when one is configured, the embedded engine when it initialised.
struct Engines: Sendable {
    var upstream: OpenAISpeechClient?
    var embedded: EspeakSynthesizer?
    /// Serves jobs: the upstream if configured, else the embedded engine. `Daemon` guarantees one exists.
    var preferred: any Synthesizer { upstream ?? embedded! }
}
