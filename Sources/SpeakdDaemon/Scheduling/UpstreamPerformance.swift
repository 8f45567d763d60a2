import SpeakdProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What speakd has learned of one upstream's speed, from the requests it served: how its time to first byte grows
/// with the input (`firstByte(n) = base + perCharacter · n`, least squares over the last requests), how much audio a
/// character makes, and how fast audio arrives once it flows. The scheduler uses it to choose the first segment, how
/// far to request ahead, and whether a segment must buffer before it plays so that no gap falls inside it.
/// Persisted as JSON (`path`) so a restart does not start from the defaults.
///
/// Threading: Sendable; every method may be called from any task or thread (one mutex, held briefly).
final class UpstreamPerformance: Sendable {
    struct Observation: Codable, Equatable {
        var characters: Int
        /// Seconds from sending the request to the first audio.
        var firstByte: Double
        /// Seconds of audio the request gave, scaled to speed 1.
        var audioSeconds: Double
        /// Seconds from the first audio to the last.
        var streamSeconds: Double
        /// Seconds of audio (at speed 1) that came after the first chunk: what arrived during `streamSeconds`.
        var laterAudioSeconds: Double?
    }

    /// The fitted model; defaults are a fast cloud upstream's (OpenAI: first byte 0.2–0.5 s, nearly flat).
    struct Model: Codable, Equatable {
        var firstByteBase = 0.4
        var firstBytePerCharacter = 0.002
        /// Seconds of speech per character at speed 1 (English speech is about 0.06–0.08).
        var audioPerCharacter = 0.07
        /// Seconds of audio that arrive per second once audio flows (the median of recent requests).
        var arrivalRate = 4.0
        var observations = 0

        func firstByte(characters: Int) -> Double { firstByteBase + firstBytePerCharacter * Double(characters) }
    }

    private struct State: Codable {
        var recent: [Observation] = []
        var model = Model()
        /// Seen to serve one request at a time (`noteResumed`): from then on each request waits for the one before.
        var servesOneAtATime: Bool?
    }

    let name: String
    /// Requests the server serves at once without slowing each (configured); nil when unknown.
    let concurrentRequests: Int?
    private let path: String?
    private let state: Mutex<State>
    /// The last job's pauses for the upstream: where the device stood silent waiting for its next audio, between
    /// sentences or at a silence inside a segment (how many, their seconds in all), and the joins it had.
    private let lastPauses = Mutex<(joins: Int, pauses: Int, seconds: Double)>((0, 0, 0))
    /// The newest first audio of any request to this upstream (monotonic seconds) and which request it was.
    private let lastFirstAudio = Mutex<(at: Double, request: Int)>((-1, -1))
    private let requestCount = Atomic<Int>(0)

    /// A pause shorter than this is the device's own latency, not one a listener hears.
    static let audiblePauseSeconds = 0.05
    /// Longest segment asked of a slow upstream.
    static let slowSegmentCharacters = 200
    /// Requests kept for the fit.
    static let window = 32

    init(name: String, path: String?, concurrentRequests: Int? = nil) {
        self.name = name
        self.concurrentRequests = concurrentRequests
        self.path = path
        var loaded = State()
        if let path, let data = FileManager.default.contents(atPath: path),
           let decoded = try? JSONDecoder().decode(State.self, from: data) {
            loaded = decoded
        }
        state = Mutex(loaded)
    }

    var model: Model { state.withLock { $0.model } }

    /// Records a request served by the upstream itself (not the phrase cache) and refits.
    func record(_ observation: Observation) {
        guard observation.characters > 0, observation.audioSeconds > 0 else { return }
        let snapshot: State = state.withLock { state in
            state.recent.append(observation)
            if state.recent.count > Self.window { state.recent.removeFirst(state.recent.count - Self.window) }
            state.model = Self.fit(state.recent)
            return state
        }
        save(snapshot)
    }

    static func fit(_ recent: [Observation]) -> Model {
        var model = Model()
        guard !recent.isEmpty else { return model }
        let n = Double(recent.count)
        let xs = recent.map { Double($0.characters) }
        let ys = recent.map(\.firstByte)
        let meanX = xs.reduce(0, +) / n
        let meanY = ys.reduce(0, +) / n
        let spread = zip(xs, xs).map { ($0 - meanX) * ($1 - meanX) }.reduce(0, +)
        if spread > 100 {
            let covariance = zip(xs, ys).map { ($0 - meanX) * ($1 - meanY) }.reduce(0, +)
            model.firstBytePerCharacter = min(max(covariance / spread, 0), 0.2)
        } else {
            // One input length seen so far: assume the default slope and fit the base.
            model.firstBytePerCharacter = Model().firstBytePerCharacter
        }
        model.firstByteBase = max(meanY - model.firstBytePerCharacter * meanX, 0)
        model.audioPerCharacter = recent.map(\.audioSeconds).reduce(0, +) / xs.reduce(0, +)
        // A body that came in one piece (a server that answers per sentence, or only when done) was produced at
        // audio ÷ first byte; under a second of audio that ratio is the server's fixed latency, not its pace, and
        // says nothing. With no measurable rate at all the upstream counts as fast.
        let rates = recent.compactMap { observation -> Double? in
            let later = observation.laterAudioSeconds ?? observation.audioSeconds
            if later >= 0.02, observation.streamSeconds >= 0.01 { return later / observation.streamSeconds }
            guard observation.audioSeconds >= 1, observation.firstByte > 0 else { return nil }
            return observation.audioSeconds / observation.firstByte
        }.sorted()
        model.arrivalRate = rates.isEmpty ? 100 : min(max(rates[rates.count / 2], 0.05), 100)
        model.observations = recent.count
        return model
    }

    /// The segmenter for a text: a first segment long enough that the next request's first byte comes before it
    /// has played out (when the upstream is slow to start), and shorter later segments for upstreams whose first
    /// byte grows with the input.
    func segmenter(firstSentenceCharacters: Int) -> (openingMin: Int, openingMax: Int, growth: [Int], maximum: Int?) {
        let model = self.model
        let a = model.firstByteBase, b = model.firstBytePerCharacter, d = model.audioPerCharacter
        let length = Double(firstSentenceCharacters)
        // Gapless join when the rest of the sentence (L − n characters) arrives before opening n has played out.
        // Asked once the opening's first audio has come and paused (w later): n·d ≥ w + a + b·(L − n). Asked at once
        // beside it (a server that serves requests concurrently): a + b·n + n·d ≥ a + b·(L − n).
        let w = SegmentFeed.pausedAfterSeconds
        let needed = servesConcurrently
            ? Int((b * length / max(2 * b + d, 0.001)).rounded(.up))
            : Int(((w + a + b * length) / max(d + b, 0.001)).rounded(.up))
        let gain = b * Double(max(firstSentenceCharacters - needed, 0))
        // A slow upstream gets sentence-sized requests throughout, so several run ahead and none keeps the listener
        // waiting long; a fast one gets growing segments (fewer requests).
        let growth = isSlow ? [Self.slowSegmentCharacters] : [400, 1_200]
        let maximum = isSlow ? Self.slowSegmentCharacters : nil
        guard gain > 0.25 else { return (0, 160, growth, maximum) }
        let minimum = min(max(needed, 16), 160)
        // Asked one after another, each next request must come before what is ahead of it has played: grow the
        // segments as the audio ahead grows (a slower-than-real-time upstream keeps short ones, see above).
        let planned = !servesConcurrently && model.arrivalRate >= 1
            ? Self.sequentialGrowth(opening: minimum, sentence: firstSentenceCharacters, model: model) : growth
        return (minimum, min(max(minimum * 8 / 5, 48), 240), planned, planned == growth ? maximum : nil)
    }

    /// Segment sizes after the opening for requests asked one after another, each when the one before starts to
    /// arrive and pauses (`w` later): the opening (n₁) is heard from its first byte T₁ = a + b·n₁ until
    /// P₁ = T₁ + d·n₁, the rest of the sentence (n₂) arrives at T₂ = T₁ + w + a + b·n₂, and each next segment is as
    /// long as 80 % of what lets its first byte come before the audio ahead of it runs out:
    /// nₖ = 0.8·(Pₖ₋₁ − Tₖ₋₁ − w − a) / b, at least 40 characters.
    static func sequentialGrowth(opening: Int, sentence: Int, model: Model) -> [Int] {
        let a = model.firstByteBase, b = max(model.firstBytePerCharacter, 0.0001), d = model.audioPerCharacter
        let w = SegmentFeed.pausedAfterSeconds
        let rest = max(sentence - opening, 1)
        var arrives = a + b * Double(opening)
        var playedOut = arrives + d * Double(opening)
        arrives += w + a + b * Double(rest)
        playedOut = max(playedOut, arrives) + d * Double(rest)
        var sizes = [rest]
        while sizes.count < 12 {
            let size = Int(0.8 * (playedOut - arrives - w - a) / b)
            let bounded = min(max(size, 40), SpeechLimits.upstreamInputMaxCharacters)
            sizes.append(bounded)
            if bounded == SpeechLimits.upstreamInputMaxCharacters { break }
            arrives += w + a + b * Double(bounded)
            playedOut = max(playedOut, arrives) + d * Double(bounded)
        }
        return sizes
    }

    /// The server serves at least two requests at once without slowing each (configured): the first two segments of
    /// a job are asked for together.
    var servesConcurrently: Bool { (concurrentRequests ?? 1) >= 2 }

    /// Requests a job may have running at once.
    var maximumInFlight: Int { concurrentRequests.map { max($0, 1) } ?? (servesOneAtATime ? 1 : isSlow ? 3 : 2) }

    /// Slow to start (its first byte grows by more than 5 ms a character) or slower than real time: such an upstream
    /// gets short segments and three requests in flight.
    var isSlow: Bool {
        let model = self.model
        return model.observations > 0 && (model.firstBytePerCharacter > 0.005 || model.arrivalRate < 1)
    }

    /// A number for a request about to be sent, for `noteFirstAudio` and `noteResumed`.
    func beginRequest() -> Int { requestCount.add(1, ordering: .relaxed).newValue }

    func noteFirstAudio(request: Int, at time: Double) {
        lastFirstAudio.withLock { $0 = (time, request) }
    }

    /// Request `request` sent audio again at `time` after a wait of `waited` seconds. When it had waited half a second
    /// or more and resumed within 50 ms of another request's first audio, the server ran that one's first part before
    /// going on with this one: it serves one request at a time, and a request sent beside a stream holds the stream
    /// back (measured on Kokoro: a sentence's last piece 3.5 s late, the device dry inside a word). Learned once, kept.
    func noteResumed(request: Int, at time: Double, waited: Double) {
        guard waited >= 0.5 else { return }
        let other = lastFirstAudio.withLock { $0 }
        guard other.request != request, abs(time - other.at) <= 0.05 else { return }
        let snapshot: State? = state.withLock { state in
            guard state.servesOneAtATime != true else { return nil }
            state.servesOneAtATime = true
            return state
        }
        if let snapshot { save(snapshot) }
    }

    /// Seen to serve one request at a time (and not configured otherwise).
    var servesOneAtATime: Bool { concurrentRequests == nil && state.withLock { $0.servesOneAtATime == true } }

    /// Records the pauses of a job the upstream spoke (from its timeline).
    func recordPauses(of segments: [SegmentTimeline.Entry]) {
        let pauses = segments.flatMap(\.audiblePauses)
        lastPauses.withLock { $0 = (max(segments.count - 1, 0), pauses.count, pauses.reduce(0, +)) }
    }

    /// Why speech pauses between sentences, for `status`; empty while the upstream keeps up.
    var pacingNotes: [String] {
        let model = self.model
        let rate = (model.arrivalRate * 100).rounded() / 100
        var notes: [String] = []
        if model.observations > 0, model.arrivalRate < 1 {
            notes.append("upstream \"\(name)\" delivers audio at \(rate)x real time: each sentence is buffered until it can play without a gap, so speech pauses between sentences")
        }
        let last = lastPauses.withLock { $0 }
        if last.pauses > 0 {
            let seconds = (last.seconds * 100).rounded() / 100
            notes.append("upstream \"\(name)\" was late \(last.pauses) times in the last job (\(seconds) s of pause in all, between sentences or at a silence; \(last.joins) joins): its next audio came after what was before it had played out (it delivers \(rate)x real time)")
        }
        return notes
    }

    private func save(_ snapshot: State) {
        guard let path, let data = try? JSONEncoder().encode(snapshot) else { return }
        StateFile.replace(path, with: data)
    }

    /// `upstream-NAME.json` in the state directory (`StateFile.directory`).
    static func defaultPath(upstream: String) -> String? {
        guard let directory = StateFile.directory() else { return nil }
        let safe = String(upstream.unicodeScalars.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" ? Character($0) : "_" })
        return "\(directory)/upstream-\(safe).json"
    }
}
