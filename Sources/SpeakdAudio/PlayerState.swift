import SpeakdCore
import Synchronization

/// The words the control side and the audio thread exchange: atomics only, no locks. Positions are ring positions
/// (see `SPSCRingBuffer`).
///
/// Threading: shared by the control side, the audio thread and the monitor thread; every member is atomic. Who
/// writes each member is stated beside it (single-writer where it matters).
final class PlayerState: Sendable {
    // Written by the audio thread.
    /// Every sample before this position has been handed to the device or discarded.
    let devicePosition = Atomic<UInt64>(0)
    /// Every sample before this position has been heard (device delay accounted) or discarded.
    let playedPosition = Atomic<UInt64>(0)
    let underruns = Atomic<Int>(0)
    /// The device position at the newest underrun: which job, and which part of it, ran dry.
    let lastUnderrunPosition = Atomic<UInt64>(0)
    /// The last `controlRequested` value the audio thread has acted on (discards, pause, resume are in effect).
    let controlCompleted = Atomic<UInt64>(0)
    /// True while playback is paused (set once the fade-out has been queued).
    let paused = Atomic<Bool>(false)
    /// Counts device failures; `lastDeviceError` describes the newest.
    let deviceErrors = Atomic<UInt64>(0)
    /// `kind << 32 | UInt32(bitPattern: code)`, see `AudioOutputError.packed`.
    let lastDeviceError = Atomic<UInt64>(0)
    /// False from a device failure (or a failed probe at start-up) until the device next opens. Written by the audio
    /// thread, and once by the control side before the first stream (`AudioPlayer.reportUnavailableDevice`).
    let deviceUsable = Atomic<Bool>(true)
    /// True while the audio thread sleeps with an empty ring and a stopped device.
    let idle = Atomic<Bool>(true)
    /// The device is open (a stream runs or is kept open after speech); written by the audio thread.
    let deviceOpen = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC nanoseconds at which the audio thread last handed frames to the device (0: never).
    let lastSoundNanoseconds = Atomic<UInt64>(0)

    // Written by the control side.
    /// Bumped after each message put on the control ring; the audio thread compares it with `controlCompleted`.
    let controlRequested = Atomic<UInt64>(0)
    /// `PCMFormat.packed` of the samples now being written.
    let requestedFormat = Atomic<UInt64>(PCMFormat.openAISpeech.packed)
    /// True between `beginStream` and `endStream`: an empty ring then means the upstream is late (an underrun),
    /// not the end.
    let streaming = Atomic<Bool>(false)
    /// True while the producer holds the next audio back on purpose (a sentence buffering until it can play through):
    /// the device running dry then is a chosen pause between sentences, not an underrun.
    let holdingBack = Atomic<Bool>(false)
    /// Bumped by every `beginStream`; a device that failed to open is retried once per stream, not once per chunk.
    let streamGeneration = Atomic<UInt64>(0)
    let shutdown = Atomic<Bool>(false)

    // Written by the monitor (under its waiter lock): the audio thread signals when it passes these.
    let watchDevicePosition = Atomic<UInt64>(.max)
    let watchPlayedPosition = Atomic<UInt64>(.max)
}

extension AudioOutputError {
    var packed: UInt64 {
        let kindBits: UInt64 = switch kind {
        case .open: 1
        case .configure: 2
        case .underrun: 3
        case .write: 4
        }
        return kindBits << 32 | UInt64(UInt32(bitPattern: code))
    }

    init(packed: UInt64, device: String) {
        let kind: Kind = switch packed >> 32 {
        case 1: .open
        case 2: .configure
        case 3: .underrun
        default: .write
        }
        self.init(kind: kind, code: Int32(bitPattern: UInt32(truncatingIfNeeded: packed)), device: device)
    }
}
