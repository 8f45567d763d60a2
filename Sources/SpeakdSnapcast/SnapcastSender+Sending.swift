import SpeakdAudio
import SpeakdCore
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// The sender's connection, paced sending and sleeping.
///
/// Threading: the Snapcast sender thread only (see `SnapcastSender`).
extension SnapcastSender {
    // MARK: sending

    func sendPending() {
        guard let connection, pendingBytes > 0 else { return }
        let frameBytes = source.format.bytesPerFrame
        var allowed = pendingBytes
        do {
            let elapsed = elapsedFrames()
            var sentFrames = bytesSent / frameBytes
            if sentFrames < elapsed {
                // The copy ran dry for a while (a gap in speech): carry on from now instead of bursting.
                clockStart = SnapcastOutput.now() &- UInt64(sentFrames) * 1_000_000_000 / UInt64(source.format.sampleRate)
                sentFrames = elapsedFrames()
                bytesSent = sentFrames * frameBytes
            }
            let lead = source.format.sampleRate * leadMilliseconds / 1_000
            allowed = min(allowed, max(elapsedFrames() + lead - bytesSent / frameBytes, 0) * frameBytes)
        }
        guard allowed > 0 else { return }
        do {
            let written = try pending.withUnsafeBytes { raw throws(SnapcastConnectionError) in
                try connection.send(UnsafeRawBufferPointer(rebasing: raw[pendingOffset..<(pendingOffset + allowed)]))
            }
            if written > 0 {
                blocked = false
            } else if !blocked {
                blocked = true
                blockedSince = SnapcastOutput.now()
            } else if SnapcastOutput.now() - blockedSince > Self.stallNanoseconds {
                // A source that takes nothing for this long is not playing it: let the audio go rather than hold
                // the player's stream open for ever.
                lost("snapserver stopped reading for \(Self.stallNanoseconds / 1_000_000) ms")
                return
            }
            pendingOffset += written
            bytesSent += written
            shared.withLock { $0.sentFrames += written / frameBytes }
            if pendingBytes == 0 { dropPending() }
        } catch {
            lost("\(error)")
        }
    }

    func connect() {
        do {
            connection = try SnapcastConnection.open(source.endpoint, timeoutMilliseconds: 2_000)
            blocked = false
            bytesSent = 0
            restartClock()
            if let outage {
                log("snapcast: \(source) is back (was: \(outage))")
                self.outage = nil
                shared.withLock { $0.reconnects += 1 }
            }
            shared.withLock { $0.connected = true; $0.lastError = nil }
            if prerollMilliseconds > 0 {
                append([Int16](repeating: 0, count: source.format.sampleRate * prerollMilliseconds / 1_000 * source.format.channels))
            }
        } catch {
            lost(error.description)
        }
    }

    func lost(_ reason: String) {
        connection = nil
        blocked = false
        dropPending()
        retryAt = SnapcastOutput.now() + 1_000_000_000
        if outage == nil { log("snapcast: \(reason); the rooms miss this audio, retrying every second") }
        outage = reason
        shared.withLock { $0.connected = false; $0.lastError = reason }
    }

    func note(problem: String) {
        log("snapcast: \(problem)")
        shared.withLock { $0.lastError = problem }
    }

    func restartClock() {
        clockStart = SnapcastOutput.now()
        bytesSent = 0
    }

    func elapsedFrames() -> Int {
        Int((SnapcastOutput.now() &- clockStart) * UInt64(source.format.sampleRate) / 1_000_000_000)
    }

    // MARK: sleeping

    func sleep() {
        var timeout: Int32 = -1
        var descriptors = [pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)]
        if let connection, pendingBytes > 0 {
            if blocked {
                descriptors.append(pollfd(fd: connection.descriptor.rawValue, events: Int16(POLLOUT), revents: 0))
                timeout = 20
            } else {
                timeout = 2   // the next frames are due within a couple of milliseconds
            }
        } else if !inputPaused, connection != nil {
            let due = lastInput + Self.tailFlushNanoseconds
            let now = SnapcastOutput.now()
            timeout = now >= due ? 0 : Int32((due - now) / 1_000_000 + 1)
        } else if let lingerUntil {
            let now = SnapcastOutput.now()
            timeout = now >= lingerUntil ? 0 : Int32(min((lingerUntil - now) / 1_000_000 + 1, 1_000))
        } else if streaming, connection == nil {
            let now = SnapcastOutput.now()
            if now >= retryAt { connect(); return }
            timeout = Int32(min((retryAt - now) / 1_000_000 + 1, 1_000))
        }
        let ready = (try? Syscall.poll(&descriptors, count: descriptors.count, timeoutMilliseconds: timeout)) ?? 0
        if ready > 0, descriptors[0].revents != 0 { wake.clear() }
    }
}
