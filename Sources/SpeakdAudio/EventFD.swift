import CSpeakdShim
#if canImport(Glibc)
import Glibc
#endif

/// A Linux eventfd used as a wake-up bell between threads: `ring` is one `write` syscall (no lock, no allocation,
/// safe on the audio thread), and the descriptor can sit in a `poll` set beside the sound device's descriptors.
///
/// Shared with the other outputs' threads (`package`): the Snapcast sender sleeps on one the same way.
///
/// Threading: `ring` from any thread; `clear` and `waitBlocking` by the one thread that waits on it.
package struct EventFD: Sendable {
    package let descriptor: Int32

    package init(nonBlocking: Bool) throws(AudioOutputError) {
        let fd = speakd_eventfd(nonBlocking ? 1 : 0)
        guard fd >= 0 else { throw AudioOutputError(kind: .open, code: -errno, device: "eventfd") }
        descriptor = fd
    }

    package func ring() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(descriptor, $0.baseAddress, 8) }
    }

    /// Resets the counter (non-blocking descriptors) or waits for a ring (blocking ones).
    package func clear() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(descriptor, $0.baseAddress, 8) }
    }

    package func close() { _ = Glibc.close(descriptor) }
}
