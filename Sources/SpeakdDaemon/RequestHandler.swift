import AsyncHTTPClient
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
            let engine: any Synthesizer
            var voice = parameters.voice
            var model = parameters.model
            if let name = parameters.upstream ?? engines.defaultUpstream {
                guard let upstream = engines.upstream(named: name) else {
                    let known = engines.upstreams.map(\.name).joined(separator: ", ")
                    return .failure(id: request.id, ProtocolError(.invalidField, "no upstream named \"\(name)\" (configured: \(known.isEmpty ? "none" : known))", field: "upstream"))
                }
                engine = upstream.client
                voice = voice ?? upstream.voice ?? defaults.voice
                model = model ?? upstream.model ?? defaults.model
            } else {
                engine = engines.preferred
                voice = voice ?? defaults.embeddedVoice
            }
            let job = await queue.submit(parameters, engine: engine, voice: voice ?? defaults.voice,
                                         model: model ?? defaults.model, owner: connection)
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
                   upstream: engines.defaultUpstream.flatMap { engines.upstream(named: $0)?.client.configuration.baseURL }, device: player.deviceName,
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
    }

    var upstreams: [Upstream] = []
    var defaultUpstream: String?
    var embedded: EspeakSynthesizer?

    func upstream(named name: String) -> Upstream? { upstreams.first { $0.name == name } }

    /// Serves jobs that name no upstream: the default upstream if any, else the embedded engine. `Daemon`
    /// guarantees one exists.
    var preferred: any Synthesizer { defaultUpstream.flatMap { upstream(named: $0)?.client } ?? embedded! }

    func shutdown() async {
        for upstream in upstreams { try? await upstream.http.shutdown() }
    }
}
