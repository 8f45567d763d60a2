import SpeakdProtocol
import SpeakdSynthesis

/// The engine that speaks a job when its own fails: the embedded one, with its voice.
///
/// Threading: a value type; Sendable.
struct Fallback: Sendable {
    let engine: any Synthesizer
    let voice: String
}

/// Who speaks a job, decided once when it is accepted (`Engines.choose`): a configured upstream or the embedded
/// engine, by kind rather than by name, with its voice, model, what is known of its speed, and the fallback.
///
/// Threading: a value type; Sendable.
struct JobEngine: Sendable {
    enum Kind: Sendable, Equatable {
        /// A configured OpenAI-compatible upstream (by its configured name).
        case upstream(String)
        /// The embedded espeak-ng engine.
        case embedded
    }

    let kind: Kind
    let engine: any Synthesizer
    let voice: String
    let model: String
    /// What speakd knows of the upstream's speed; nil for the embedded engine.
    let performance: UpstreamPerformance?
    /// Set only for an upstream job of a priority that falls back: the embedded engine never falls back to itself.
    let fallback: Fallback?
}

extension Engines {
    /// The one place that decides a speak job's engine and its fallback. Throws for an upstream that is not
    /// configured.
    func choose(for parameters: SpeakParameters, defaults: JobDefaults) throws(ProtocolError) -> JobEngine {
        guard let name = parameters.upstream ?? defaultUpstream else {
            return JobEngine(kind: .embedded, engine: preferred, voice: parameters.voice ?? defaults.embeddedVoice,
                                model: parameters.model ?? defaults.model, performance: nil, fallback: nil)
        }
        let upstream = try resolve(named: name)
        // An upstream that fails (after its retries) hands the job to the embedded engine, for the priorities
        // configured: an announcement offline is still heard.
        let fallback = defaults.fallbackPriorities.contains(parameters.priority)
            ? embedded.map { Fallback(engine: $0, voice: defaults.embeddedVoice) } : nil
        return JobEngine(kind: .upstream(name), engine: upstream.synthesizer(useCache: parameters.cache),
                            voice: parameters.voice ?? upstream.voice ?? defaults.voice,
                            model: parameters.model ?? upstream.model ?? defaults.model,
                            performance: upstream.performance, fallback: fallback)
    }

    /// A configured upstream, or the error naming the field and the upstreams there are.
    func resolve(named name: String) throws(ProtocolError) -> Upstream {
        guard let upstream = upstream(named: name) else {
            let known = upstreams.map(\.name).joined(separator: ", ")
            throw ProtocolError(.invalidField, "no upstream named \"\(name)\" (configured: \(known.isEmpty ? "none" : known))", field: "upstream")
        }
        return upstream
    }
}
