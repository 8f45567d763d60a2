import CSpeakdShim
#if canImport(Glibc)
import Glibc
#endif

/// A Linux eventfd used as a wake-up bell between threads: `ring` is one `write` syscall (no lock, no allocation,
/// safe on the audio thread), and the descriptor can sit in a `poll` set beside the sound device's descriptors.
///
/// Threading: `ring` from any thread; `clear` and `waitBlocking` by the one thread that waits on it.
struct EventFD: Sendable {
    let descriptor: Int32

    init(nonBlocking: Bool) throws(AudioOutputError) {
        let fd = speakd_eventfd(nonBlocking ? 1 : 0)
        guard fd >= 0 else { throw AudioOutputError(kind: .open, code: -errno, device: "eventfd") }
        descriptor = fd
    }

    func ring() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(descriptor, $0.baseAddress, 8) }
    }

    /// Resets the counter (non-blocking descriptors) or waits for a ring (blocking ones).
    func clear() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(descriptor, $0.baseAddress, 8) }
    }

    func close() { _ = Glibc.close(descriptor) }
}
