import SpeakdCore

/// An output that takes every frame at once and plays none: plumbing (a daemon that only archives, benchmarks of
/// everything before the device). It never blocks, holds nothing (its delay is 0) and never fails.
///
/// Threading: the `AudioOutput` contract (audio thread only); it holds only the open format.
public final class NullOutput: AudioOutput {
    public let deviceName: String
    public let periodFrames: Int
    public let bufferFrames: Int
    public private(set) var isRunning = false
    private var channels = 1

    /// - Parameters:
    ///   - periodFrames: what it reports as its period (the audio thread's wake-up step); any positive value.
    public init(deviceName: String = "null", periodFrames: Int = 480) {
        self.deviceName = deviceName
        self.periodFrames = periodFrames
        self.bufferFrames = periodFrames * 4
    }

    public var maximumBufferMicroseconds: Int { 0 }

    public func open(format: PCMFormat) { channels = max(format.channels, 1) }
    public func close() { isRunning = false }
    public func availableFrames() -> Int { bufferFrames }
    public func write(_ samples: UnsafeBufferPointer<Int16>, frames: Int) -> Int {
        isRunning = true
        return min(frames, samples.count / channels)
    }
    public func delayFrames() -> Int { 0 }
    public func start() { isRunning = true }
    public func dropAndPrepare() { isRunning = false }
    public func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int { 0 }
}
