import CEspeakNG
import Dispatch
import SpeakdCore
import Synchronization

/// The embedded engine: libespeak-ng linked as a C library, so speakd speaks with no key and no network.
///
/// espeak-ng keeps global state and is not re-entrant: every call runs on one private serial queue. Synthesis is
/// much faster than real time; its callback waits (on that queue's thread, never an async task's) while the consumer
/// is more than a few chunks behind, so memory stays bounded for any length of text.
///
/// Threading: Sendable; `synthesize` may be called from any task, calls are served one at a time.
public final class EspeakSynthesizer: Synthesizer {
    public let engineName = "espeak-ng"
    /// espeak-ng voice used when the job names none, or names one espeak-ng does not know (e.g. OpenAI's "alloy").
    public let defaultVoice: String
    public let format: PCMFormat
    private static let queue = DispatchQueue(label: "speakd.espeak-ng")

    /// Initialises espeak-ng. Throws when its data files are missing.
    public init(defaultVoice: String = "en-us") throws(SynthesisError) {
        let rate = Self.queue.sync { espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, nil, Int32(espeakINITIALIZE_DONT_EXIT)) }
        guard rate > 0 else {
            throw SynthesisError(.engine, "espeak-ng could not be initialised (are its data files installed? package espeak-ng-data)")
        }
        format = PCMFormat(sampleRate: Int(rate))
        self.defaultVoice = defaultVoice
        Self.queue.sync { espeak_SetSynthCallback(espeakCallback) }
    }

    /// The speeds espeak-ng makes itself; beyond them the rest is time-stretched like an upstream's audio. Its rate
    /// goes from 80 to 450 words per minute (0.46–2.57×), but its lengths follow the rate only within 0.5–2×
    /// (measured: 2.5× came out 1.6 % long, 0.46× 6 % short, since its pauses do not scale), so the rest is stretched.
    public static let nativeSpeeds = 0.5...2.0

    public func synthesize(_ request: SynthesisRequest, deliver: (AudioChunk) async throws -> Void) async throws {
        let wanted = request.speed ?? 1.0
        let native = wanted.clamped(to: Self.nativeSpeeds)
        guard abs(wanted / native - 1) > SpeedAdaptingSynthesizer.negligibleRemainder else {
            return try await synthesize(request.input, voice: request.voice, speed: native, deliver: deliver)
        }
        _ = try await SpeedAdaptingSynthesizer.stretching(by: wanted / native, deliver: deliver) { stretched in
            try await synthesize(request.input, voice: request.voice, speed: native, deliver: stretched)
        }
    }

    private func synthesize(_ text: String, voice: String, speed: Double, deliver: (AudioChunk) async throws -> Void) async throws {
        let run = EspeakRun(capacity: 4, sampleRate: format.sampleRate)
        let fallbackVoice = defaultVoice
        let rate = Int32((Double(espeakRATE_NORMAL) * speed).rounded())
            .clamped(to: Int32(espeakRATE_MINIMUM)...Int32(espeakRATE_MAXIMUM))
        Self.queue.async {
            if espeak_SetVoiceByName(voice) != EE_OK, espeak_SetVoiceByName(fallbackVoice) != EE_OK {
                run.finish(error: SynthesisError(.engine, "espeak-ng has no voice \"\(fallbackVoice)\""))
                return
            }
            espeak_SetParameter(espeakRATE, rate, 0)
            let context = Unmanaged.passUnretained(run).toOpaque()
            let result = text.withCString { pointer in
                espeak_Synth(pointer, text.utf8.count + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, context)
            }
            run.finish(error: result == EE_OK || run.isCancelled ? nil : SynthesisError(.engine, "espeak-ng failed (error \(result.rawValue))"))
        }
        try await withTaskCancellationHandler {
            for try await part in run.stream {
                run.consumed()
                try await deliver(AudioChunk(format: format, samples: part.samples, wordStarts: part.words))
            }
        } onCancel: {
            run.cancel()
        }
        try Task.checkCancellation()
    }
}

/// One synthesis in flight: a bounded hand-over from espeak-ng's callback (a blocking thread) to the async consumer.
///
/// Threading: the callback side (`push`, `finish`) runs on the espeak queue; `consumed` and `cancel` from any task.
final class EspeakRun: Sendable {
    /// A callback's samples and the words espeak-ng placed (its `espeakEVENT_WORD` events, exact).
    struct Part: Sendable {
        var samples: [Int16]
        var words: [WordStart]
    }
    let stream: AsyncThrowingStream<Part, any Error>
    private let continuation: AsyncThrowingStream<Part, any Error>.Continuation
    let sampleRate: Int
    /// Free slots between producer and consumer; the callback waits when none is left.
    private let slots: DispatchSemaphore
    private let cancelled = Atomic<Bool>(false)

    init(capacity: Int, sampleRate: Int) {
        self.sampleRate = sampleRate
        (stream, continuation) = AsyncThrowingStream.makeStream(of: Part.self)
        // Created at 0 and raised to `capacity`: libdispatch traps when a semaphore is freed below its initial
        // value, which is exactly what a cancelled run leaves behind (chunks pushed, never consumed).
        slots = DispatchSemaphore(value: 0)
        for _ in 0..<capacity { slots.signal() }
    }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Returns false to make espeak-ng stop.
    func push(_ samples: UnsafeBufferPointer<Int16>, words: [WordStart]) -> Bool {
        guard !isCancelled else { return false }
        slots.wait()
        guard !isCancelled else { return false }
        continuation.yield(Part(samples: Array(samples), words: words))
        return true
    }

    func consumed() { slots.signal() }

    func finish(error: SynthesisError?) {
        if let error { continuation.finish(throwing: error) } else { continuation.finish() }
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        slots.signal()
        continuation.finish(throwing: CancellationError())
    }
}

/// espeak-ng's synth callback: a C function pointer, so the run travels in the events' `user_data`.
private func espeakCallback(_ wave: UnsafeMutablePointer<Int16>?, _ count: Int32, _ events: UnsafeMutablePointer<espeak_EVENT>?) -> Int32 {
    guard let events, let context = events.pointee.user_data else { return 0 }
    let run = Unmanaged<EspeakRun>.fromOpaque(context).takeUnretainedValue()
    // Word events come with the samples they fall in; text positions are 1-based characters (code points).
    var words: [WordStart] = []
    var event = events
    while event.pointee.type != espeakEVENT_LIST_TERMINATED {
        // Position 0 marks no word of the text (espeak-ng sends such events at clause ends): skip them.
        if event.pointee.type == espeakEVENT_WORD, event.pointee.text_position > 0 {
            words.append(WordStart(textOffset: max(Int(event.pointee.text_position) - 1, 0),
                                   frame: Int(event.pointee.audio_position) * run.sampleRate / 1000))
        }
        event += 1
    }
    guard let wave, count > 0 else {
        // Words with no samples in this call are carried by an empty part.
        if !words.isEmpty, !run.isCancelled { _ = run.push(UnsafeBufferPointer(start: nil, count: 0), words: words) }
        return run.isCancelled ? 1 : 0
    }
    return run.push(UnsafeBufferPointer(start: wave, count: Int(count)), words: words) ? 0 : 1
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
