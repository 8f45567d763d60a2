import CSpeakdShim
import Foundation
@testable import SpeakdAudio
import XCTest

/// The real-time guard: a SCHED_FIFO thread that never sleeps is returned to normal scheduling by RLIMIT_RTTIME's
/// SIGXCPU within about its limit (200 ms of CPU), instead of holding a core for ever.
final class RealtimeGuardTests: XCTestCase {
    func testASpinningRealtimeThreadIsReturnedToNormalScheduling() throws {
        let before = speakd_realtime_guard_demotions()
        let result = SpinResult()
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { done.signal() }
            speakd_realtime_guard_register_thread()
            result.raiseError = AudioPlayer.raiseToRealtime(pthread_self())
            guard result.raiseError == nil else { return }
            result.wasRealtime = Self.policy() == SCHED_FIFO
            let start = Date()
            // Spins without a system call that sleeps, as a bug would.
            while Self.policy() == SCHED_FIFO, Date().timeIntervalSince(start) < 5 {}
            result.spunSeconds = Date().timeIntervalSince(start)
            result.stillRealtime = Self.policy() == SCHED_FIFO
        }.start()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        // The tests run as root (CI and scripts/test do): real-time priority is always granted there, so a refusal
        // is a failure, not a reason to skip the only check of the guard.
        XCTAssertNil(result.raiseError, "real-time priority refused (errno \(result.raiseError ?? 0)): run the tests as root or with CAP_SYS_NICE")
        XCTAssertTrue(result.wasRealtime)
        XCTAssertFalse(result.stillRealtime, "the spinning thread kept SCHED_FIFO for \(result.spunSeconds) s")
        XCTAssertLessThan(result.spunSeconds, 2, "demoted only after \(result.spunSeconds) s")
        XCTAssertGreaterThan(speakd_realtime_guard_demotions(), before)
    }

    /// The calling thread's policy as the kernel has it (pthread_getschedparam answers from glibc's cache, which the
    /// guard's raw sched_setscheduler does not update).
    private static func policy() -> Int32 { sched_getscheduler(0) }
}

private final class SpinResult: @unchecked Sendable {
    var raiseError: Int32?
    var wasRealtime = false
    var stillRealtime = true
    var spunSeconds = 0.0
}
