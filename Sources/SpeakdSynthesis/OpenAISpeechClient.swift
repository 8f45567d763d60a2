import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SpeakdCore
import SpeakdDecoding
import SpeakdProtocol
import SpeakdText
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Streams speech from an OpenAI-compatible `POST {base}/audio/speech` with `response_format: "pcm"`.
///
/// Audio is delivered chunk by chunk as it arrives (playback can start on the first bytes). The `HTTPClient` is
/// shared and long-lived, so its pool keeps connections warm between jobs: no new TCP or TLS handshake per job.
///
/// Threading: Sendable; `synthesize` may run concurrently from several tasks.
public final class OpenAISpeechClient: Synthesizer {
    public let engineName = "openai"
    public let configuration: UpstreamConfiguration
    private let http: HTTPClient
    private let logger: Logger
    /// When requests ran, for `ConnectionWarmer`.
    let activity = UpstreamActivity()

    public init(configuration: UpstreamConfiguration, http: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    /// A cheap request that leaves a pooled connection open for the next job: `GET {base}/models`, body discarded,
    /// any status accepted (a 404 keeps the connection as well as a 200). Errors are only logged.
    func refreshConnection() async {
        var request = HTTPClientRequest(url: configuration.modelsURL)
        addIdentity(to: &request.headers)
        do {
            let response = try await http.execute(request, deadline: .now() + .seconds(configuration.firstByteTimeoutSeconds),
                                                  logger: logger)
            for try await _ in response.body {}
            logger.trace("upstream connection refreshed", metadata: ["status": "\(response.status.code)"])
        } catch {
            logger.debug("refreshing the upstream connection failed", metadata: ["error": "\(error)"])
        }
    }

    /// Who is asking, on every request to this upstream: the User-Agent and, when configured, the key.
    private func addIdentity(to headers: inout HTTPHeaders) {
        headers.add(name: "User-Agent", value: "speakd/\(speakdVersion)")
        if let key = configuration.apiKey { headers.add(name: "Authorization", value: "Bearer \(key)") }
    }

    /// An HTTP client set up with the upstream's connect timeout; shut it down with `shutdown()` at exit.
    ///
    /// The three timeouts: `connect_timeout` is the client's own; `first_byte_timeout` is the request's deadline for
    /// its headers (`execute(deadline:)` stops timing once they arrive), counted from sending; `idle_timeout` is
    /// timed by `IdleTimedBody`.
    /// The client's read timeout would time the headers and the body alike, so it is only a backstop, never reached
    /// before the other two.
    public static func makeHTTPClient(for configuration: UpstreamConfiguration) -> HTTPClient {
        var httpConfiguration = HTTPClient.Configuration()
        let backstop = max(configuration.firstByteTimeoutSeconds, configuration.idleTimeoutSeconds) + 30
        httpConfiguration.timeout = .init(connect: .seconds(configuration.connectTimeoutSeconds),
                                          read: .seconds(backstop))
        // Keep idle connections for a while: the next announcement reuses them.
        httpConfiguration.connectionPool = .init(idleTimeout: .seconds(300))
        // Fail a refused connection at once instead of retrying until the connect timeout: a listener waiting for
        // speech is better served by a prompt failure (and a fallback engine) than by seconds of silence.
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        httpConfiguration.decompression = .disabled
        if let caFile = configuration.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            httpConfiguration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
    }

    /// The JSON body: exactly the contract's properties (`additionalProperties: false`), plus the upstream's
    /// configured extras (which never override a contract property).
    public static func encodeBody(_ request: SynthesisRequest, extra: [String: JSONValue]) throws -> Data {
        var body = extra
        body["model"] = .string(request.model)
        body["input"] = .string(request.input)
        body["voice"] = .string(request.voice)
        body["response_format"] = .string("pcm")
        if let instructions = request.instructions { body["instructions"] = .string(instructions) }
        if let speed = request.speed { body["speed"] = .number(speed) }
        return try JSONEncoder().encode(JSONValue.object(body))
    }

    public func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        activity.begin()
        defer { activity.end() }
        var httpRequest = HTTPClientRequest(url: configuration.speechURL)
        httpRequest.method = .POST
        httpRequest.headers.add(name: "Content-Type", value: "application/json")
        httpRequest.headers.add(name: "Accept", value: "audio/pcm, application/octet-stream, audio/*;q=0.5")
        addIdentity(to: &httpRequest.headers)
        httpRequest.body = .bytes(ByteBuffer(bytes: try Self.encodeBody(request, extra: configuration.extraBody)))

        let response: HTTPClientResponse
        do {
            // Counted from sending, connection included (a warm pooled connection has none to make): the client
            // cannot tell when a new connection is up. A connection slower than connect_timeout fails first as such.
            let deadline = NIODeadline.now() + .seconds(configuration.firstByteTimeoutSeconds)
            response = try await http.execute(httpRequest, deadline: deadline, logger: logger)
        } catch {
            throw describe(error, stage: "connecting to")
        }
        guard response.status == .ok else {
            throw await failure(for: response)
        }
        let decoder = makeDecoder(for: response.headers)
        do {
            try await IdleTimedBody.forEachPart(of: response.body, idleTimeout: configuration.idleTimeoutSeconds) { buffer in
                let runs = try buffer.withUnsafeReadableBytes { raw in try decoder.push(raw) }
                for run in runs { try await deliver(AudioChunk(format: run.format, samples: run.samples)) }
            }
            for run in try decoder.finish() { try await deliver(AudioChunk(format: run.format, samples: run.samples)) }
        } catch let error as AudioDecodingError {
            throw refusal(error, decoder: decoder)
        } catch let error as SynthesisError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw describe(error, stage: "receiving audio from", afterSamples: decoder.samplesDecoded)
        }
        guard decoder.samplesDecoded > 0 else {
            // Kokoro does this under load; nothing was heard, so asking again is safe.
            throw SynthesisError(.badAudio, "the upstream answered 200 but sent no audio", isRetryable: true)
        }
    }

    /// The decoder for a response: its Content-Type and other headers say what it is, the configured overrides say
    /// what raw PCM is when the server does not, and the first bytes have the last word (`UpstreamAudioDecoder`).
    func makeDecoder(for headers: HTTPHeaders) -> UpstreamAudioDecoder {
        let label = AudioLabel(contentType: headers.first(name: "Content-Type"), headers: headers.map { ($0.name, $0.value) })
        return UpstreamAudioDecoder(label: label, sampleRateOverride: configuration.sampleRateOverride,
                                    channelsOverride: configuration.channelsOverride)
    }

    /// A body that is not usable audio, in words that name the server and what it sent.
    private func refusal(_ error: AudioDecodingError, decoder: UpstreamAudioDecoder) -> SynthesisError {
        let what = decoder.kind.map { " (\($0))" } ?? ""
        let after = decoder.samplesDecoded > 0 ? " after \(decoder.samplesDecoded) samples" : ""
        return SynthesisError(.badAudio, "upstream \(configuration.baseURL) sent what speakd cannot play\(what)\(after): \(error.message)")
    }

    private func failure(for response: HTTPClientResponse) async -> SynthesisError {
        var collected = ByteBuffer()
        _ = try? await withThrowingTaskGroup(of: Void.self) { _ in
            for try await part in response.body {
                var part = part
                if collected.readableBytes < 65_536 { collected.writeBuffer(&part) }
            }
        }
        let parsed = UpstreamErrorBody.parse(Array(collected.readableBytesView))
        let status = Int(response.status.code)
        let detail = "upstream answered \(status) \(response.status.reasonPhrase): \(parsed.message)"
        switch status {
        case 401, 403:
            return SynthesisError(.authentication, "API key rejected (\(detail))", httpStatus: status)
        case 400..<500 where status != 408 && status != 429:
            var error = SynthesisError(.rejected, detail, httpStatus: status)
            error.speedRefusal = SpeedRefusal.parse(Array(collected.readableBytesView))
            return error
        case 429 where parsed.code == "insufficient_quota":
            // Waiting does not help: the account is out of credit.
            return SynthesisError(.unavailable, detail, httpStatus: status)
        default:
            return SynthesisError(.unavailable, detail, httpStatus: status, isRetryable: true,
                                  retryAfterSeconds: RetryAfter.seconds(from: response.headers))
        }
    }

    /// A transport failure in words, naming the timeout that fired (and its setting) when one did.
    func describe(_ error: any Error, stage: String, afterSamples: Int = 0) -> SynthesisError {
        Self.describe(error, url: configuration.speechURL, stage: stage, afterSamples: afterSamples,
                      timeouts: configuration)
    }

    static func describe(_ error: any Error, url: String, stage: String, afterSamples: Int = 0,
                         timeouts: UpstreamConfiguration = UpstreamConfiguration()) -> SynthesisError {
        let reason: String
        switch error {
        case let error as HTTPClientError where error == .connectTimeout:
            reason = "no connection within \(timeouts.connectTimeoutSeconds) s (connect_timeout)"
        case let error as HTTPClientError where error == .deadlineExceeded:
            reason = "no answer within \(timeouts.firstByteTimeoutSeconds) s (first_byte_timeout)"
        case let timeout as BodyIdleTimeout:
            reason = "the audio stream stalled: nothing for \(timeout.seconds) s (idle_timeout)"
        case let error as HTTPClientError where error == .readTimeout:
            reason = afterSamples > 0 ? "the audio stream stalled" : "no answer in time"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            reason = "the connection closed early"
        case let error as HTTPParserError where error == .invalidEOFState:
            // A 200 whose body ends without its end (chunked terminator or Content-Length): a truncated stream.
            reason = "the connection closed early, before the end of the audio"
        case let error as NIOConnectionError:
            reason = error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
        default:
            reason = "\(error)"
        }
        let suffix = afterSamples > 0 ? " after \(afterSamples) samples" : ""
        let kind: SynthesisError.Kind = afterSamples > 0 ? .badAudio : .unavailable
        // A connection that failed before any audio can be tried again; audio already played cannot be unplayed. A
        // timeout is not retried: the listener has waited a whole timeout already, and the fallback speaks now.
        let timedOut = error is BodyIdleTimeout
            || [.connectTimeout, .deadlineExceeded, .readTimeout].contains(error as? HTTPClientError)
        return SynthesisError(kind, "\(stage) upstream \(url) failed\(suffix): \(reason)",
                              isRetryable: afterSamples == 0 && !timedOut)
    }
}
