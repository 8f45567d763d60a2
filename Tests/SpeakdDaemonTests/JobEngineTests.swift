import AsyncHTTPClient
import Logging
import SpeakdProtocol
import SpeakdSynthesis
import XCTest
@testable import SpeakdDaemon

/// Who speaks a job is decided once, by kind: an upstream with the embedded engine as its fallback for the configured
/// priorities, or the embedded engine, which never falls back to itself.
final class JobEngineTests: XCTestCase {
    private var http: HTTPClient!
    private let defaults = JobDefaults(voice: "alloy", model: "tts-1", embeddedVoice: "en-us",
                                       fallbackPriorities: [.important, .message])

    override func setUp() {
        http = OpenAISpeechClient.makeHTTPClient(for: UpstreamConfiguration(baseURL: "http://127.0.0.1:9/v1"))
    }

    override func tearDown() async throws {
        try await http.shutdown()
    }

    private func engines(upstream: Bool) throws -> Engines {
        var engines = Engines()
        engines.embedded = try EspeakSynthesizer(defaultVoice: "en-us")
        guard upstream else { return engines }
        let configuration = UpstreamConfiguration(baseURL: "http://127.0.0.1:9/v1")
        let logger = Logger(label: "test")
        engines.upstreams = [Engines.Upstream(
            name: "local", client: OpenAISpeechClient(configuration: configuration, http: http, logger: logger),
            http: http, model: "kokoro", voice: "af_heart", cache: nil, speed: UpstreamSpeed(), logger: logger,
            performance: UpstreamPerformance(name: "local", path: nil))]
        engines.defaultUpstream = "local"
        return engines
    }

    func testAnUpstreamJobFallsBackToTheEmbeddedEngineForTheConfiguredPriorities() throws {
        let engines = try engines(upstream: true)
        let important = try engines.choose(for: SpeakParameters(input: "hi", priority: .important), defaults: defaults)
        XCTAssertEqual(important.kind, .upstream("local"))
        XCTAssertEqual(important.voice, "af_heart")
        XCTAssertEqual(important.model, "kokoro")
        XCTAssertNotNil(important.performance)
        XCTAssertTrue(important.fallback?.engine is EspeakSynthesizer)
        XCTAssertEqual(important.fallback?.voice, "en-us")

        let notification = try engines.choose(for: SpeakParameters(input: "hi", priority: .notification), defaults: defaults)
        XCTAssertNil(notification.fallback, "notification is not among the fallback priorities")
    }

    func testTheEmbeddedEngineNeverFallsBackToItself() throws {
        let choice = try engines(upstream: false).choose(for: SpeakParameters(input: "hi", priority: .important),
                                                         defaults: defaults)
        XCTAssertEqual(choice.kind, .embedded)
        XCTAssertTrue(choice.engine is EspeakSynthesizer)
        XCTAssertNil(choice.fallback)
        XCTAssertNil(choice.performance)
        XCTAssertEqual(choice.voice, "en-us")
    }

    func testAnUnknownUpstreamIsAnInvalidFieldNamingTheConfiguredOnes() throws {
        XCTAssertThrowsError(try engines(upstream: true).choose(for: SpeakParameters(input: "hi", upstream: "nope"),
                                                                defaults: defaults)) { error in
            guard let error = error as? ProtocolError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, .invalidField)
            XCTAssertEqual(error.field, "upstream")
            XCTAssertTrue(error.message.contains("local"), error.message)
        }
    }

    func testSynthesisFailuresMapToTheirProtocolCodes() {
        let cases: [(SynthesisError.Kind, ProtocolError.Code)] = [
            (.authentication, .authentication), (.rejected, .upstreamRejected), (.unavailable, .upstreamUnavailable),
            (.badAudio, .synthesisFailed), (.engine, .synthesisFailed),
        ]
        for (kind, code) in cases {
            let mapped = ProtocolError(synthesis: SynthesisError(kind, "why"))
            XCTAssertEqual(mapped.code, code, "\(kind)")
            XCTAssertEqual(mapped.message, "why")
        }
    }
}
