import SpeakdCore
import Synchronization

/// Pause, resume and the fades: the exact pause (the device plays out, a fade-out of the next samples, then
/// silence), the fade-in on resume, and the fade-out before a cut inside speech. The ramps themselves are
/// `SampleMath`'s pure functions, applied in the preallocated `scratch` buffer.
///
/// Threading: the audio thread only (see `AudioThread`).
extension AudioThread {
    /// Queues a fade-out of the samples that follow what the device holds, then holds the read position there.
    func pauseAfterDeviceBuffer() {
        paused = true
        pausedSilenceSamples = 0
        pauseFadeLength = 0
        pauseFadeWritten = 0
        state.paused.store(true, ordering: .releasing)
        guard deviceHasFrames, openFormat != 0 else { return }
        let channels = channels
        let count = readFade(at: consumer.position, channels: channels)
        guard count > 0 else { return }
        SampleMath.applyRamp(to: UnsafeMutableBufferPointer(rebasing: scratch[..<count]), channels: channels,
                             length: count, offset: 0, rising: false)
        // The device is usually full: the fade goes in as room appears, ahead of the silence.
        pauseFadeLength = count
        pauseFadeWritten = 0
        consumer.discard(upTo: consumer.position + UInt64(count))
        state.devicePosition.store(consumer.position, ordering: .releasing)
        fadeInLength = count
        fadeInRemaining = count
    }

    /// Paused: the device plays out what it holds and the fade, then silence, so that the stream never restarts
    /// (a restart is where sound servers lose or pad a few milliseconds). After `pauseKeepAliveSeconds` of pause the device is
    /// released and the thread sleeps until resumed.
    func waitWhilePaused() {
        guard deviceHasFrames else {
            waitForWake(timeoutMilliseconds: -1)
            return
        }
        let format = PCMFormat(packed: openFormat)
        if pausedSilenceSamples >= Self.pauseKeepAliveSeconds * format.sampleRate * format.channels {
            output.dropAndPrepare()
            deviceHasFrames = false
            notify.ring()
            return
        }
        do {
            let available = try output.availableFrames() * channels
            if available > 0, pauseFadeWritten < pauseFadeLength {
                let count = min(available, pauseFadeLength - pauseFadeWritten)
                pauseFadeWritten += try writeFrames(UnsafeBufferPointer(rebasing: scratch[pauseFadeWritten..<(pauseFadeWritten + count)]))
            } else if available > 0 {
                let count = min(available, zeros.count)
                pausedSilenceSamples += try writeFrames(UnsafeBufferPointer(rebasing: zeros[..<count]))
                if !output.isRunning { output.start() }
            }
        } catch {
            // An xrun while paused is harmless: it recovered, and nothing was lost.
        }
        waitForDevice()
    }

    /// After a resume: the first samples go through the scratch buffer with a rising ramp.
    func writeFadeIn(_ region: UnsafeBufferPointer<Int16>) {
        let count = min(region.count, fadeInRemaining, scratch.count)
        let piece = UnsafeMutableBufferPointer(rebasing: scratch[..<count])
        _ = piece.update(fromContentsOf: region.prefix(count))
        SampleMath.applyRamp(to: piece, channels: channels, length: fadeInLength, offset: fadeInLength - fadeInRemaining,
                             rising: true)
        fadeInRemaining -= writeToDevice(UnsafeBufferPointer(piece))
    }

    /// The last `length` samples before a cut inside speech go out with a falling ramp (`distance` samples remain).
    func writeFadeOut(_ region: UnsafeBufferPointer<Int16>, distance: Int, length: Int) {
        let count = min(region.count, distance, scratch.count)
        let piece = UnsafeMutableBufferPointer(rebasing: scratch[..<count])
        _ = piece.update(fromContentsOf: region.prefix(count))
        SampleMath.applyRamp(to: piece, channels: channels, length: length, offset: length - distance, rising: false)
        writeToDevice(UnsafeBufferPointer(piece))
    }

    /// Copies the fade's samples at `position` into the scratch buffer; returns how many there were.
    func readFade(at position: UInt64, channels: Int) -> Int {
        guard openFormat != 0 else { return 0 }
        let fadeSamples = min(fadeFrames * channels, scratch.count)
        return consumer.peek(at: position, into: UnsafeMutableBufferPointer(rebasing: scratch[..<fadeSamples]))
    }

    /// Writes the scratch buffer to the device and makes sure it plays even if shorter than the start threshold.
    func queueScratch(count: Int) {
        let written = (try? writeFrames(UnsafeBufferPointer(rebasing: scratch[..<count]))) ?? 0
        if written > 0 {
            output.start()
            deviceHasFrames = true
        }
    }

    /// Frames in a fade at the open format.
    var fadeFrames: Int {
        max(PCMFormat(packed: openFormat).sampleRate * fadeMilliseconds / 1000, 1)
    }
}
