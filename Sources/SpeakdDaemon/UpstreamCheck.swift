import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import SpeakdProtocol
import SpeakdSynthesis
import SpeakdText

/// The doctor behind `speakctl upstream check`: asks an upstream for a short and a longer phrase, lists its models and
/// voices, probes the speeds it accepts, and reports what a user needs to configure it well (`UpstreamReport`).
///
/// It talks HTTP itself rather than through `OpenAISpeechClient`: it needs the raw headers, the first bytes and the
/// timing of each body part, not decoded samples. Requests go through the upstream's own pooled `HTTPClient`, with
/// its key and extra body members, exactly as jobs would send them.
///
/// Threading: Sendable; `run` may be called from several tasks at once (each run makes its own requests, one at a
/// time so the timings are not disturbed by each other).
struct UpstreamCheck: Sendable {
    var name: String
    var configuration: UpstreamConfiguration
    var http: HTTPClient
    var voice: String
    var model: String

    /// A one-sentence phrase, and a longer one of two sentences (a server that streams sentence by sentence sends
    /// the first before synthesizing the second, which is how streaming shows).
    static let shortPhrase = "Hello there."
    static let longPhrase = "The kettle clicked off just as the rain began to tap against the kitchen window, soft and slow. We made tea and waited for the storm to pass."
    /// Around OpenAI's 0.25–4.0; the phrase itself is asked at the server's default, 1.0.
    static let probedSpeeds: [Double] = [0.25, 0.5, 2.0, 3.0, 4.0]
    /// Bodies are read up to this size (an hour of 24 kHz speech is 170 MB; these phrases are seconds).
    static let bodyLimit = 16 << 20

    func run() async -> UpstreamReport {
        var report = UpstreamReport(upstream: name, baseURL: configuration.baseURL, voice: voice, model: model,
                                    keySent: configuration.apiKey != nil)
        let short = await speech(Self.shortPhrase, speed: nil)
        guard let status = short.status else {
            report.problems.append("unreachable: \(short.failure ?? "no answer")")
            return report
        }
        report.reachable = true
        report.models = await listing(configuration.modelsURL)
        report.voices = await listing(String(configuration.modelsURL.dropLast("/models".count)) + "/audio/voices")
        var shortAnalysis = analyse(short, text: Self.shortPhrase)
        report.firstRequestMilliseconds = short.firstByteAt
        switch status {
        case 200: report.authentication = "ok"
        case 401, 403:
            report.probes.append(shortAnalysis.probe)
            report.authentication = "rejected"
            report.problems.append(configuration.apiKey == nil
                ? "the server wants an API key and none is configured (api_key_file in [upstream.\(name)]): \(shortAnalysis.probe.error ?? "")"
                : "the API key was refused: \(shortAnalysis.probe.error ?? "")")
            return report
        default:
            report.probes.append(shortAnalysis.probe)
            report.problems.append("the server refused the short phrase: \(shortAnalysis.probe.error ?? "HTTP \(status)")")
            return report
        }
        guard shortAnalysis.probe.bytes > 0 else {
            report.probes.append(shortAnalysis.probe)
            report.problems.append("the server answered 200 with no audio")
            return report
        }
        // Timed again, warm: the line through the two phrases is about synthesis, not about loading a model.
        let again = await speech(Self.shortPhrase, speed: nil)
        if again.status == 200 { shortAnalysis = analyse(again, text: Self.shortPhrase) }
        report.probes.append(shortAnalysis.probe)

        let long = await speech(Self.longPhrase, speed: nil)
        let longAnalysis = analyse(long, text: Self.longPhrase)
        report.probes.append(longAnalysis.probe)
        let main = long.status == 200 && longAnalysis.probe.bytes > 0 ? longAnalysis : shortAnalysis
        report.format = main.format?.report
        if long.status != 200 || longAnalysis.probe.bytes == 0 {
            report.problems.append("the longer phrase failed: \(longAnalysis.probe.error ?? "no audio")")
        } else if let first = longAnalysis.probe.firstByteMilliseconds, let end = longAnalysis.probe.totalMilliseconds,
                  let shortFirst = shortAnalysis.probe.firstByteMilliseconds {
            let streams = UpstreamCheckAnalysis.streams(firstByte: first, end: end)
            report.streams = streams
            let characters: (UpstreamReport.PhraseProbe) -> Int = { streams ? $0.firstSentenceCharacters : $0.characters }
            report.firstByte = UpstreamCheckAnalysis.firstByteModel(
                (characters(shortAnalysis.probe), shortFirst), (characters(longAnalysis.probe), first),
                basis: streams ? "first sentence" : "input")
            if let audio = longAnalysis.probe.audioSeconds, end > 0 { report.realTimeFactor = audio * 1000 / end }
            if !streams, end > 1_000 {
                report.warnings.append("the answer is not streamed: the first sound waits for the whole synthesis; a Kokoro-FastAPI server streams with [upstream.\(name).extra_body] stream = true")
            }
        }
        if let format = report.format {
            if format.container != "raw" && format.container != "wav" {
                report.warnings.append("the server sends \(format.container) although response_format \"pcm\" was asked for")
            }
            if let perCharacter = main.probe.millisecondsPerCharacter, let rate = format.sampleRate,
               let warning = UpstreamCheckAnalysis.rateWarning(millisecondsPerCharacter: perCharacter, rate: rate,
                                                               channels: format.channels ?? 1, source: format.rateSource,
                                                               upstream: name) {
                report.warnings.append(warning)
            }
        }
        if let factor = report.realTimeFactor, factor < 1 {
            report.warnings.append("the server synthesizes slower than real time (\(Self.oneDecimal(factor))×): long texts will pause between segments")
        }

        for speed in Self.probedSpeeds {
            let answer = await speech(Self.shortPhrase, speed: speed)
            let analysis = analyse(answer, text: Self.shortPhrase)
            report.speeds.append(.init(speed: speed, accepted: answer.status == 200 && analysis.probe.bytes > 0,
                                       status: answer.status, message: analysis.probe.error,
                                       audioSeconds: analysis.probe.audioSeconds))
        }
        report.speedRange = UpstreamCheckAnalysis.speedRange(report.speeds)
        if let atOne = shortAnalysis.probe.audioSeconds,
           let fast = report.speeds.first(where: { $0.speed == 2.0 && $0.accepted }), let atTwo = fast.audioSeconds,
           atTwo > 0.9 * atOne {
            report.warnings.append("the server accepts speed but ignores it: speed 2.0 gave \(Self.oneDecimal(atTwo)) s of audio, 1.0 gave \(Self.oneDecimal(atOne)) s")
        }
        return report
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    // MARK: - One exchange

    /// One HTTP exchange, its milliseconds counted from sending.
    struct Exchange {
        var status: Int?
        var headers = HTTPHeaders()
        var body: [UInt8] = []
        var headersAt: Double?
        var firstByteAt: Double?
        var endAt: Double?
        var parts = 0
        /// The transport failure in words (no answer, or a body cut short).
        var failure: String?
    }

    private struct Overdue: Error {}

    /// Sends a request and reads the whole answer, timing it; never throws, never waits longer than the upstream's
    /// first-byte timeout for the headers plus a minute for the body.
    func exchange(_ url: String, json: ByteBuffer?) async -> Exchange {
        let configuration = self.configuration
        let headerSeconds = configuration.firstByteTimeoutSeconds
        let http = self.http
        let result: Result<Exchange, any Error> = await withTaskGroup(of: Result<Exchange, any Error>?.self) { group in
            group.addTask {
                let clock = ContinuousClock()
                let start = clock.now
                func elapsed() -> Double {
                    let duration = clock.now - start
                    return Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
                }
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "User-Agent", value: "speakd/\(speakdVersion) (upstream check)")
                if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
                if let json {
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "Accept", value: "audio/pcm, application/octet-stream")
                    request.body = .bytes(json)
                }
                var exchange = Exchange()
                do {
                    let response = try await http.execute(request, deadline: .now() + .seconds(headerSeconds))
                    exchange.status = Int(response.status.code)
                    exchange.headers = response.headers
                    exchange.headersAt = elapsed()
                    for try await part in response.body {
                        if exchange.firstByteAt == nil { exchange.firstByteAt = elapsed() }
                        exchange.parts += 1
                        if exchange.body.count < Self.bodyLimit { exchange.body.append(contentsOf: part.readableBytesView) }
                    }
                    exchange.endAt = elapsed()
                } catch {
                    exchange.failure = Self.describe(error, timeouts: configuration)
                }
                return .success(exchange)
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(headerSeconds + 60))
                return Task.isCancelled ? nil : .failure(Overdue())
            }
            let first = await group.next()!
            group.cancelAll()
            return first!
        }
        switch result {
        case .success(let exchange): return exchange
        case .failure: return Exchange(failure: "the answer did not end within \(headerSeconds + 60) s")
        }
    }

    /// `POST {base}/audio/speech` as a job would send it (the upstream's extra body members included).
    func speech(_ text: String, speed: Double?) async -> Exchange {
        let request = SynthesisRequest(input: text, voice: voice, model: model, speed: speed)
        guard let body = try? OpenAISpeechClient.encodeBody(request, extra: configuration.extraBody) else {
            return Exchange(failure: "the request could not be encoded")
        }
        return await exchange(configuration.speechURL, json: ByteBuffer(bytes: body))
    }

    func listing(_ url: String) async -> UpstreamReport.Listing {
        let answer = await exchange(url, json: nil)
        var listing = UpstreamReport.Listing(url: url, status: answer.status)
        guard let status = answer.status else {
            listing.note = answer.failure
            return listing
        }
        guard status == 200 else {
            listing.note = "not listed (HTTP \(status))"
            return listing
        }
        listing.names = UpstreamCheckAnalysis.names(inListing: answer.body)
        if listing.names == nil { listing.note = "answered 200, but not with a list speakd understands" }
        return listing
    }

    /// A speech answer read as a probe: timings, the server's words when refused, the format and durations.
    func analyse(_ answer: Exchange, text: String) -> (probe: UpstreamReport.PhraseProbe, format: UpstreamCheckAnalysis.Format?) {
        let firstSentence = text.firstRange(of: ". ").map { text[..<$0.lowerBound].unicodeScalars.count + 1 }
        var probe = UpstreamReport.PhraseProbe(characters: text.unicodeScalars.count,
                                               firstSentenceCharacters: firstSentence ?? text.unicodeScalars.count)
        probe.status = answer.status
        probe.headersMilliseconds = answer.headersAt
        probe.firstByteMilliseconds = answer.firstByteAt
        probe.totalMilliseconds = answer.endAt
        probe.parts = answer.parts
        guard let status = answer.status else {
            probe.error = answer.failure
            return (probe, nil)
        }
        guard status == 200 else {
            probe.error = "HTTP \(status): \(UpstreamErrorBody.parse(answer.body).message)"
            return (probe, nil)
        }
        probe.error = answer.failure
        probe.bytes = answer.body.count
        let format = UpstreamCheckAnalysis.format(headers: answer.headers.map { ($0.name, $0.value) }, firstBytes: Array(answer.body.prefix(4_096)),
                                                  rateOverride: configuration.sampleRateOverride)
        probe.bytes = max(0, answer.body.count - format.dataOffset)
        if let rate = format.report.sampleRate, let channels = format.report.channels, format.report.bitsPerSample == 16 {
            let data = answer.body[format.dataOffset...]
            var samples = [Int16](repeating: 0, count: data.count / 2)
            var index = data.startIndex
            for position in samples.indices {
                samples[position] = Int16(bitPattern: UInt16(data[index]) | UInt16(data[index + 1]) << 8)
                index += 2
            }
            let durations = UpstreamCheckAnalysis.durations(of: samples, rate: rate, channels: channels)
            probe.audioSeconds = durations.audio
            probe.speechSeconds = durations.speech
            if durations.speech > 0 { probe.millisecondsPerCharacter = durations.speech * 1_000 / Double(probe.characters) }
        }
        return (probe, format)
    }

    /// A transport failure in words, naming the timeout that fired.
    static func describe(_ error: any Error, timeouts: UpstreamConfiguration) -> String {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout:
            "no connection within \(timeouts.connectTimeoutSeconds) s (connect_timeout)"
        case let error as HTTPClientError where error == .deadlineExceeded:
            "no answer within \(timeouts.firstByteTimeoutSeconds) s (first_byte_timeout)"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            "the connection closed early"
        case let error as NIOConnectionError:
            error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
        default:
            "\(error)"
        }
    }
}
