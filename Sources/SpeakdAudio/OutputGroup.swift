import SpeakdCore

/// A second destination that gets a copy of what the primary output takes (the Snapcast output beside the local
/// device). It is fed from the audio thread and must never make it wait: it queues the copy for a thread of its own
/// and drops what does not fit (counting it), so a slow or absent destination costs the primary nothing.
///
/// Threading: every method is called on the audio thread only, and must not block, allocate, lock or log.
public protocol AudioMirror: AnyObject {
    /// A stream starts at `format` (the primary's open format).
    func streamStarts(format: PCMFormat)
    /// Frames the primary just took: `frames` × channels interleaved samples at the stream's format.
    func copy(_ samples: UnsafeBufferPointer<Int16>, frames: Int)
    /// What the primary held was thrown away (a stop or a cut): throw away what the mirror still holds too.
    func cut()
    /// The primary has played everything it was given: send what the mirror still holds back (a resampler's tail)
    /// now, not when the next audio comes.
    func streamDrained()
    /// The stream stopped (speech ended and the primary went quiet, or it closed): end the destination's stream.
    func streamStops()
    /// Latency after the mirror that speakd cannot cut, in microseconds (see `AudioOutput`).
    var downstreamLatencyMicroseconds: Int { get }
}

/// Several outputs at once: a primary `AudioOutput` that sets the pace (its buffer, its clock, its failures are the
/// player's) and mirrors that receive a copy of every frame it takes. The events that say a sample was heard follow
/// the slowest of them (`downstreamLatencyMicroseconds` is the largest).
///
/// A mirror never holds the primary back (see `AudioMirror`); the primary failing ends the stream for the mirrors
/// too (the audio thread drops a stream whose device cannot play it), so configure the networked output alone when
/// there is no local device.
///
/// Threading: the `AudioOutput` contract (audio thread only), except `maximumBufferMicroseconds` and
/// `downstreamLatencyMicroseconds` (constants read when the player is made).
public final class OutputGroup: AudioOutput {
    public let primary: any AudioOutput
    public let mirrors: [any AudioMirror]
    /// `mirrors` for the audio thread: a plain buffer walked by index (iterating an array of existentials allocates
    /// in unoptimized builds).
    private let mirrorList: UnsafeMutableBufferPointer<any AudioMirror>
    public let downstreamLatencyMicroseconds: Int
    private var format: PCMFormat?
    private var streaming = false

    public init(primary: any AudioOutput, mirrors: [any AudioMirror]) {
        self.primary = primary
        self.mirrors = mirrors
        mirrorList = .allocate(capacity: mirrors.count)
        _ = mirrorList.initialize(from: mirrors)
        downstreamLatencyMicroseconds = mirrors.map(\.downstreamLatencyMicroseconds)
            .reduce(primary.downstreamLatencyMicroseconds, max)
    }

    deinit {
        mirrorList.deinitialize()
        mirrorList.deallocate()
    }

    /// Calls `body` with each mirror, on the audio thread, allocating nothing.
    private func eachMirror(_ body: (any AudioMirror) -> Void) {
        var index = 0
        while index < mirrorList.count {
            body(mirrorList[index])
            index += 1
        }
    }

    public var deviceName: String { primary.deviceName }
    public var maximumBufferMicroseconds: Int { primary.maximumBufferMicroseconds }
    public var periodFrames: Int { primary.periodFrames }
    public var bufferFrames: Int { primary.bufferFrames }
    public var isRunning: Bool { primary.isRunning }

    public func open(format: PCMFormat) throws(AudioOutputError) {
        endMirrorStream()
        try primary.open(format: format)
        self.format = format
    }

    public func close() {
        endMirrorStream()
        format = nil
        primary.close()
    }

    public func availableFrames() throws(AudioOutputError) -> Int { try primary.availableFrames() }

    public func write(_ samples: UnsafeBufferPointer<Int16>, frames: Int) throws(AudioOutputError) -> Int {
        let taken = try primary.write(samples, frames: frames)
        if taken > 0, let format {
            if !streaming {
                streaming = true
                eachMirror { $0.streamStarts(format: format) }
            }
            let copied = UnsafeBufferPointer(rebasing: samples.prefix(taken * max(format.channels, 1)))
            eachMirror { $0.copy(copied, frames: taken) }
        }
        return taken
    }

    public func delayFrames() -> Int { primary.delayFrames() }
    public func start() { primary.start() }

    /// A cut (stop, cancel, a discarded range): the mirrors drop what they still hold too.
    public func dropAndPrepare() {
        primary.dropAndPrepare()
        if streaming { eachMirror { $0.cut() } }
    }

    /// The primary played everything: the mirrors keep theirs and send their tails now.
    public func endOfStream() {
        primary.endOfStream()
        if streaming { eachMirror { $0.streamDrained() } }
    }

    public func stopWhileIdle() {
        endMirrorStream()
        primary.stopWhileIdle()
    }

    public func readyForStream() { primary.readyForStream() }
    public func useRole(_ role: String) { primary.useRole(role) }

    public func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int {
        primary.pollDescriptors(into: buffer)
    }

    private func endMirrorStream() {
        guard streaming else { return }
        streaming = false
        eachMirror { $0.streamStops() }
    }
}
