import CAlsa
import CSpeakdShim
import SpeakdCore
#if canImport(Glibc)
import Glibc
#endif

/// Plays PCM through an ALSA device in non-blocking mode, so the audio thread can wait in `poll` on the device and on
/// its wake-up descriptor at once (a stop request never waits behind a blocked write).
///
/// Threading: the `AudioOutput` contract: all methods on the audio thread only. `init` may run anywhere.
public final class ALSAOutput: AudioOutput {
    public let deviceName: String
    public let periodMicroseconds: UInt32
    public let bufferMicroseconds: UInt32
    /// The PCM handle; only touched by the audio thread (and `deinit`, after the thread has ended).
    nonisolated(unsafe) private var pcm: OpaquePointer?
    private var format: PCMFormat?
    public private(set) var periodFrames = 0
    public private(set) var bufferFrames = 0
    public var maximumBufferMicroseconds: Int { Int(bufferMicroseconds) }
    /// Set by a failure mid-stream: `close` then drops alsa-lib's cached configuration (see `forgetConfiguration`).
    private var reloadConfiguration = false
    /// Stopped at the end of speech, to be prepared before the next write (`stopWhileIdle`).
    private var stoppedWhileIdle = false

    public init(deviceName: String, periodMicroseconds: UInt32 = 10_000, bufferMicroseconds: UInt32 = 40_000) {
        self.deviceName = deviceName
        self.periodMicroseconds = periodMicroseconds
        self.bufferMicroseconds = bufferMicroseconds
        ALSAOutput.silenceLibraryDiagnostics
    }

    deinit { close() }

    /// alsa-lib prints to stderr unless given a handler; every error also comes back to us as a code.
    private static let silenceLibraryDiagnostics: Void = speakd_alsa_silence_errors()

    public func open(format: PCMFormat) throws(AudioOutputError) {
        close()
        var handle: OpaquePointer?
        let rc = snd_pcm_open(&handle, deviceName, SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK)
        guard rc >= 0, let handle else {
            Self.forgetConfiguration()
            throw AudioOutputError(kind: .open, code: rc, device: deviceName)
        }
        var period: snd_pcm_uframes_t = 0
        var buffer: snd_pcm_uframes_t = 0
        var failedStep: UnsafePointer<CChar>?
        let configured = speakd_alsa_configure(handle, UInt32(format.sampleRate), UInt32(format.channels),
                                               periodMicroseconds, bufferMicroseconds, &period, &buffer, &failedStep)
        guard configured >= 0 else {
            snd_pcm_close(handle)
            Self.forgetConfiguration()
            throw AudioOutputError(kind: .configure, code: configured, device: deviceName,
                                   step: failedStep.map { String(cString: $0) })
        }
        pcm = handle
        self.format = format
        periodFrames = Int(period)
        bufferFrames = Int(buffer)
    }

    public func close() {
        if let pcm {
            snd_pcm_drop(pcm)
            snd_pcm_close(pcm)
        }
        pcm = nil
        format = nil
        stoppedWhileIdle = false
        periodFrames = 0
        bufferFrames = 0
        if reloadConfiguration {
            reloadConfiguration = false
            Self.forgetConfiguration()
        }
    }

    /// After a device failure: alsa-lib reads its configuration once per process, and what "default" means is
    /// decided then (the pulse hook makes it PulseAudio only if a server is running at that moment). Dropping the
    /// cached tree makes the next open read it again, so a sound server started or restarted since is found.
    /// Called only with no PCM open, by the process's only ALSA user at that moment (the audio thread, or the
    /// start-up probe before any stream); it allocates, which is why it happens only after a failure.
    private static func forgetConfiguration() {
        snd_config_update_free_global()
    }

    public func availableFrames() throws(AudioOutputError) -> Int {
        guard let pcm else { throw AudioOutputError(kind: .write, code: -EBADFD, device: deviceName) }
        prepareIfStopped(pcm)
        let available = snd_pcm_avail_update(pcm)
        if available >= 0 { return Int(available) }
        try recover(from: Int32(available))
        return 0
    }

    public func write(_ samples: UnsafeBufferPointer<Int16>, frames: Int) throws(AudioOutputError) -> Int {
        guard let pcm, let format else { throw AudioOutputError(kind: .write, code: -EBADFD, device: deviceName) }
        prepareIfStopped(pcm)
        let count = snd_pcm_uframes_t(max(min(frames, samples.count / max(format.channels, 1)), 0))
        let written = snd_pcm_writei(pcm, samples.baseAddress, count)
        if written >= 0 { return Int(written) }
        if written == -Int(EAGAIN) { return 0 }
        try recover(from: Int32(written))
        return 0
    }

    /// xruns and suspends are recovered here (`snd_pcm_recover`, silent); the caller learns of an xrun through the
    /// `.underrun` error so it can count it. Anything else is a failed device.
    private func recover(from code: Int32) throws(AudioOutputError) {
        guard let pcm else { return }
        let recovered = snd_pcm_recover(pcm, code, 1)
        if recovered < 0 {
            reloadConfiguration = true
            throw AudioOutputError(kind: .write, code: code, device: deviceName)
        }
        if code == -EPIPE {
            throw AudioOutputError(kind: .underrun, code: code, device: deviceName)
        }
    }

    public func delayFrames() -> Int {
        guard let pcm else { return 0 }
        var delay: snd_pcm_sframes_t = 0
        guard snd_pcm_delay(pcm, &delay) >= 0 else { return 0 }
        return max(Int(delay), 0)
    }

    public var isRunning: Bool {
        guard let pcm else { return false }
        return snd_pcm_state(pcm) == SND_PCM_STATE_RUNNING
    }

    public func start() {
        guard let pcm, snd_pcm_state(pcm) == SND_PCM_STATE_PREPARED else { return }
        snd_pcm_start(pcm)
    }

    public func dropAndPrepare() {
        guard let pcm else { return }
        snd_pcm_drop(pcm)
        snd_pcm_prepare(pcm)
        stoppedWhileIdle = false
    }

    /// Dropped without preparing: ALSA's pulse plugin corks its stream on drop and makes a new, running one on
    /// prepare, and PulseAudio's role-ducking keeps other streams lowered while a trigger stream runs.
    public func stopWhileIdle() {
        guard let pcm else { return }
        snd_pcm_drop(pcm)
        stoppedWhileIdle = true
    }

    public func useRole(_ role: String) { StreamRole.declare(role) }

    public func readyForStream() {
        if let pcm { prepareIfStopped(pcm) }
    }

    private func prepareIfStopped(_ pcm: OpaquePointer) {
        guard stoppedWhileIdle else { return }
        stoppedWhileIdle = false
        snd_pcm_prepare(pcm)
    }

    public func pollDescriptors(into buffer: UnsafeMutableBufferPointer<PollDescriptor>) -> Int {
        guard let pcm, let base = buffer.baseAddress else { return 0 }
        let count = snd_pcm_poll_descriptors(pcm, base, UInt32(buffer.count))
        return max(Int(count), 0)
    }

    /// ALSA's text for an error code (`snd_strerror`). Not for the audio thread: it builds a String.
    public static func describe(code: Int32) -> String {
        String(cString: snd_strerror(code))
    }
}
