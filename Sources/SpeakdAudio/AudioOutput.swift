import SpeakdCore
/// A sound sink the audio thread writes to: `ALSAOutput`, `NullOutput` (plumbing), `TestOutput` (simulated time, for
/// tests); a network output (Snapcast) fits the same shape.
///
/// Units: frames (one sample per channel) everywhere; buffers are interleaved s16 in the open format.
///
/// Modelled on MPD's output interface: every method is called **on the audio thread only** (never concurrently),
/// and says what it throws. `write` and `delay` are called in the steady state and must not allocate, lock (beyond
/// what the sound library does internally) or log; `open` and `close` run between streams and may allocate.
/// Implementations are therefore not thread-safe, and need not be (`maximumBufferMicroseconds` excepted).
public protocol AudioOutput: AnyObject {
    /// The name shown to users ("default", "hw:0", "file:FILE=…").
    var deviceName: String { get }

    /// The longest device buffer this output asks for, in microseconds, whatever the format; 0 if it holds nothing.
    /// Read once, on any thread, when a player is created: the ring's rewind reserve is sized from it.
    var maximumBufferMicroseconds: Int { get }

    /// Opens (or reopens) the device for `format`. Throws `.open` when the device is missing or busy, `.configure`
    /// when it cannot take the format or the period and buffer sizes.
    func open(format: PCMFormat) throws(AudioOutputError)

    /// Releases the device. Safe to call when closed.
    func close()

    /// Frames per period as granted at the last `open` (the device's wake-up granularity); 0 when closed.
    var periodFrames: Int { get }

    /// Frames the device's buffer holds as granted at the last `open`; 0 when closed.
    var bufferFrames: Int { get }

    /// Frames the device can take now without blocking. Throws `.underrun` after an xrun (already recovered), other
    /// kinds when the device is lost.
    func availableFrames() throws(AudioOutputError) -> Int

    /// Writes up to `frames` frames from `samples` (interleaved in the open format, at least `frames` × channels
    /// samples) without blocking; returns how many frames were taken (0 if the device is full). Throws `.underrun`
    /// after an xrun (already recovered: the next write restarts the stream) and `.write` when the device is gone.
    func write(_ samples: UnsafeBufferPointer<Int16>, frames: Int) throws(AudioOutputError) -> Int

    /// Frames written but not yet heard (0 when stopped).
    func delayFrames() -> Int

    /// Whether the device is consuming frames (as opposed to prepared and waiting for its start threshold).
    var isRunning: Bool { get }

    /// Starts playback of frames already queued, for streams shorter than the start threshold.
    func start()

    /// Stops at once, throwing away queued frames (ALSA `snd_pcm_drop`), and readies the device for the next stream.
    func dropAndPrepare()

    /// The device has played everything it was given (or stopped by itself): ready it for the next stream. Unlike
    /// `dropAndPrepare` nothing is thrown away, which matters to outputs that hold audio after the device (mirrors).
    func endOfStream()

    /// Speech has ended and the device has been quiet for a moment: stop the stream but keep the device open
    /// (keep-open). A sound server then sees the stream stopped, so its ducking of other streams ends now rather than
    /// when the device closes. `readyForStream`, `availableFrames` or `write` readies the device again.
    func stopWhileIdle()

    /// A stream is about to start: ready a device stopped by `stopWhileIdle` now, while the first samples are still
    /// on their way, rather than on the first write.
    func readyForStream()

    /// The `media.role` the next `open` gives its stream ("" for none), for the sound server's ducking policy.
    /// Called on the audio thread between streams.
    func useRole(_ role: String)

    /// Latency after this output that speakd cannot cut, in microseconds: a network server's buffer (Snapcast's
    /// `buffer`), 0 for a local device. Events that say a sample was heard wait this much longer. Read once, on any
    /// thread, when a player is created.
    var downstreamLatencyMicroseconds: Int { get }

    /// File descriptors to poll for writability, written into `buffer`; returns the count (at most `buffer.count`).
    func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int
}

extension AudioOutput {
    /// Outputs without a sound server behind them have nothing to release: as `dropAndPrepare`.
    public func stopWhileIdle() { dropAndPrepare() }

    public func readyForStream() {}

    public func endOfStream() { dropAndPrepare() }

    public func useRole(_ role: String) {}

    public var downstreamLatencyMicroseconds: Int { 0 }
}

#if canImport(Glibc)
import Glibc
public typealias PollDescriptor = pollfd
#elseif canImport(Darwin)
import Darwin
public typealias PollDescriptor = pollfd
#endif

/// Why an output failed. Carries the library's error code; the text is built only when printed (never on the
/// audio thread).
///
/// Threading: a value type; Sendable.
public struct AudioOutputError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The device could not be opened (missing, busy, no permission).
        case open
        /// The device refused the format or the period/buffer sizes.
        case configure
        /// The device ran dry; recovered.
        case underrun
        /// The device went away or failed mid-stream.
        case write
    }

    public var kind: Kind
    /// Negative errno-style code from the sound library.
    public var code: Int32
    public var device: String
    /// The setup step that failed, for `.configure`.
    public var step: String?

    public init(kind: Kind, code: Int32, device: String, step: String? = nil) {
        self.kind = kind
        self.code = code
        self.device = device
        self.step = step
    }

    public var description: String {
        let reason = ALSAOutput.describe(code: code)
        switch kind {
        case .open:
            return "cannot open audio device \"\(device)\": \(reason)"
                + (code == -2 || code == -19 ? " (no such device; is a sound server running, or is --device right?)" : "")
        case .configure: return "audio device \"\(device)\" refused the format at \(step ?? "setup"): \(reason)"
        case .underrun: return "audio device \"\(device)\" underran"
        case .write: return "audio device \"\(device)\" failed while playing: \(reason)"
        }
    }
}
