import AsyncHTTPClient
import NIOCore
import Dispatch
import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis
#if canImport(Glibc)
import Glibc
#endif

/// Which engine serves jobs.
public enum EngineChoice: String, Sendable, CaseIterable {
    /// The upstream when a key or a base URL is configured, else the embedded engine.
    case auto
    case openai
    case espeak = "espeak-ng"
}

/// Everything the daemon needs to start, resolved from flags and environment by the `speakd` executable.
///
/// Threading: a value type; Sendable.
public struct DaemonOptions: Sendable {
    public var socketPath: String
    public var engine: EngineChoice = .auto
    /// nil when no upstream is configured (no key and no base URL given).
    public var upstream: UpstreamConfiguration?
    public var voice = "alloy"
    public var model = "tts-1"
    public var embeddedVoice = "en-us"
    public var device = "default"
    public var periodMicroseconds: UInt32 = 10_000
    public var bufferMicroseconds: UInt32 = 40_000

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// Startup problems the user can fix; printed as they are, and speakd exits 1.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Wires the pipeline together and serves until SIGTERM or SIGINT.
///
/// Threading: `run` is called once, from the main task.
public enum Daemon {
    public static func run(_ options: DaemonOptions, logger: Logger) async throws {
        let (engines, http) = try makeEngines(options, logger: logger)
        do {
            try await serve(options, engines: engines, logger: logger)
        } catch {
            try? await http?.shutdown()
            throw error
        }
        try? await http?.shutdown()
    }

    private static func serve(_ options: DaemonOptions, engines: Engines, logger: Logger) async throws {

        let output = ALSAOutput(deviceName: options.device, periodMicroseconds: options.periodMicroseconds,
                                bufferMicroseconds: options.bufferMicroseconds)
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let events = EventHub()
        let queue = JobQueue(player: player, events: events, logger: logger)
        let handler = RequestHandler(queue: queue, engines: engines, events: events, player: player,
                                     defaults: JobDefaults(voice: options.voice, model: options.model,
                                                           embeddedVoice: options.embeddedVoice))
        let server = ControlServer(path: options.socketPath, handler: handler, events: events, logger: logger)
        let bound: NIOAsyncServerChannel
        do {
            bound = try await server.bind()
        } catch let error as SocketFile.Failure {
            throw StartupError(error.description)
        } catch {
            throw StartupError("cannot listen on \(options.socketPath): \(error)")
        }
        defer { unlink(options.socketPath) }

        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.info("shutting down", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                server.close()
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        logger.info("speakd \(speakdVersion) listening", metadata: [
            "socket": "\(options.socketPath)", "engine": "\(engines.preferred.engineName)",
            "upstream": "\(engines.upstream?.configuration.baseURL ?? "none")", "device": "\(options.device)",
        ])
        try await server.serve(bound)
        await queue.stop(reason: "speakd is shutting down")
    }

    private static func makeEngines(_ options: DaemonOptions, logger: Logger) throws -> (Engines, HTTPClient?) {
        var engines = Engines()
        var http: HTTPClient?
        let wantUpstream: Bool = switch options.engine {
        case .auto: options.upstream != nil
        case .openai: true
        case .espeak: false
        }
        if wantUpstream {
            let configuration = options.upstream ?? UpstreamConfiguration()
            if configuration.apiKey == nil, configuration.baseURL == UpstreamConfiguration.openAIBaseURL {
                logger.warning("no API key: set OPENAI_API_KEY or --api-key-file; OpenAI will refuse every request")
            }
            let client = OpenAISpeechClient.makeHTTPClient(for: configuration)
            http = client
            engines.upstream = OpenAISpeechClient(configuration: configuration, http: client, logger: logger)
        }
        do {
            engines.embedded = try EspeakSynthesizer(defaultVoice: options.embeddedVoice)
        } catch {
            if !wantUpstream { throw StartupError("no engine: \(error)") }
            logger.warning("embedded engine unavailable", metadata: ["error": "\(error)"])
        }
        return (engines, http)
    }
}

typealias NIOAsyncServerChannel = NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
