import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSynthesis

/// Runs speak jobs one after another into the player, and reports each job's lifecycle.
///
/// Synthesis of a job streams straight into the player's ring; as soon as a job's last sample is written, the next
/// job's synthesis begins while the previous one is still playing, so consecutive jobs join without a gap. A job is
/// `started` when its first sample reaches the device and `finished` when its last has been heard.
///
/// Threading: an actor; all methods are async and may be called from any task.
public actor JobQueue {
    private let player: AudioPlayer
    private let events: EventHub
    private let logger: Logger
    private var pending: [Job] = []
    private var current: (job: Job, task: Task<Void, Never>)?
    /// Jobs whose final event has not been sent yet: queued, running, or written and still playing.
    private var unfinished: [String: Job] = [:]
    private var nextJobNumber = 1
    private var runner: Task<Void, Never>?

    public init(player: AudioPlayer, events: EventHub, logger: Logger) {
        self.player = player
        self.events = events
        self.logger = logger
    }

    /// The job being heard (its first sample reached the device, its last has not been heard yet).
    private var playing: String?

    var queuedCount: Int { pending.count }
    /// The job being heard, else the one being synthesized.
    var currentJobID: String? { playing ?? current?.job.id }

    /// Accepts a job and answers at once with its id; audio follows.
    func submit(_ parameters: SpeakParameters, engine: any Synthesizer, voice: String, model: String,
                owner: ConnectionID?) -> String {
        let id = String(nextJobNumber)
        nextJobNumber += 1
        let segments = TextSegmenter().segments(of: parameters.input)
        let job = Job(id: id, parameters: parameters, engine: engine, owner: owner, segments: segments,
                      voice: voice, model: model)
        unfinished[id] = job
        emit(job, .queued)
        pending.append(job)
        if runner == nil {
            runner = Task { await self.runPending() }
        }
        return id
    }

    /// Silences now and drops every job, the playing one included. Returns how many jobs were cancelled.
    func stop(reason: String) async -> Int {
        let dropped = pending
        pending.removeAll()
        let running = current
        // Silence first (the part a listener notices), then tidy up.
        await player.cut()
        running?.task.cancel()
        var count = 0
        for job in dropped {
            if finalize(job, .cancelled, reason: reason) { count += 1 }
        }
        if let running {
            await running.task.value
            if finalize(running.job, .cancelled, reason: reason) { count += 1 }
        }
        // Jobs that had finished synthesis but were still playing were cut as well.
        for job in unfinished.values.sorted(by: { Int($0.id) ?? 0 < Int($1.id) ?? 0 }) {
            if finalize(job, .cancelled, reason: reason) { count += 1 }
        }
        player.reopen()
        return count
    }

    private func runPending() async {
        while !pending.isEmpty {
            let job = pending.removeFirst()
            let task = Task { await self.play(job) }
            current = (job, task)
            await task.value
            current = nil
        }
        runner = nil
    }

    /// Synthesizes `job` into the player; returns when its last sample is in the ring (not when it has played).
    private func play(_ job: Job) async {
        let stream = player.beginStream()
        let start = stream.startPosition
        defer { player.endStream() }
        Task { await self.reportStart(of: job, stream: stream) }
        guard let (format, failure) = await Self.synthesize(job, into: player) else { return }
        let end = player.writePosition
        if let failure, end == start {
            // Nothing was written: nothing will start; fail now.
            logger.warning("job failed", metadata: ["job": "\(job.id)", "reason": "\(failure.message)"])
            finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
            return
        }
        Task { await self.reportEnd(of: job, stream: stream, end: end, duration: format.seconds(frames: Int(end - start) / format.channels), failure: failure) }
    }

    /// Streams every segment of `job` into the player. Returns the format last written and the failure, if any;
    /// nil when cancelled. Runs off the actor: only the player is touched.
    private nonisolated static func synthesize(_ job: Job, into player: AudioPlayer) async -> (PCMFormat, SynthesisError?)? {
        var format = PCMFormat.openAISpeech
        do {
            for segment in job.segments {
                let request = SynthesisRequest(input: segment, voice: job.voice, model: job.model,
                                               instructions: job.parameters.instructions, speed: job.parameters.speed)
                try await job.engine.synthesize(request) { chunk in
                    format = chunk.format
                    try await player.write(chunk.samples, format: chunk.format)
                }
            }
            return (format, nil)
        } catch _ where Task.isCancelled {
            return nil
        } catch let error as SynthesisError {
            return (format, error)
        } catch {
            return (format, SynthesisError(.engine, "\(error)"))
        }
    }

    private func reportStart(of job: Job, stream: PlaybackStream) async {
        let outcome = await player.waitUntilStarted(stream)
        guard outcome == .reached, unfinished[job.id] != nil else {
            if case .deviceFailed(let error) = outcome {
                logger.error("audio device failed", metadata: ["job": "\(job.id)", "error": "\(error)"])
                finalize(job, .failed, reason: error.description, error: ProtocolError(.audioDevice, error.description))
            }
            return
        }
        playing = job.id
        emit(job, .started)
    }

    private func reportEnd(of job: Job, stream: PlaybackStream, end: UInt64, duration: Double, failure: SynthesisError?) async {
        let outcome = await player.waitUntilPlayed(position: end, of: stream)
        switch outcome {
        case .reached:
            if let failure {
                finalize(job, .failed, reason: failure.message, error: protocolError(for: failure))
            } else {
                finalize(job, .finished, duration: duration)
            }
        case .cut:
            finalize(job, .cancelled, reason: "stopped")
        case .deviceFailed(let error):
            finalize(job, .failed, reason: error.description, error: ProtocolError(.audioDevice, error.description))
        }
    }

    private func emit(_ job: Job, _ state: JobState) {
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(), engine: job.engine.engineName),
                       owner: job.owner)
    }

    /// Sends the job's one final event, unless it was already sent. Returns whether it sent it.
    @discardableResult
    private func finalize(_ job: Job, _ state: JobState, reason: String? = nil, error: ProtocolError? = nil,
                          duration: Double? = nil) -> Bool {
        guard unfinished.removeValue(forKey: job.id) != nil else { return false }
        if playing == job.id { playing = nil }
        events.publish(Event(event: .job, job: job.id, state: state, time: monotonicSeconds(),
                             engine: job.engine.engineName, reason: reason, error: error, duration: duration),
                       owner: job.owner)
        logger.debug("job \(state.rawValue)", metadata: ["job": "\(job.id)"])
        return true
    }

    private func protocolError(for error: SynthesisError) -> ProtocolError {
        let code: ProtocolError.Code = switch error.kind {
        case .authentication: .authentication
        case .rejected: .upstreamRejected
        case .unavailable: .upstreamUnavailable
        case .badAudio, .engine: .synthesisFailed
        }
        return ProtocolError(code, error.message)
    }
}
