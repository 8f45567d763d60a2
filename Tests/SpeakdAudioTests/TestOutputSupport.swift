import Foundation
import SpeakdCore
import XCTest
@testable import SpeakdAudio

/// What the tests of the audio thread on `TestOutput` share: signals, expected fades, and a clock that never
/// outruns the audio thread unless a test wants it to.
extension XCTestCase {
    /// Nonzero samples (1,000 ≤ |x| ≤ 15,000), so silence is told apart from audio.
    func nonzeroSamples(_ count: Int, seed: Int) -> [Int16] {
        (0..<count).map { index in
            let value = 1_000 + ((index &* 7_919 &+ seed &* 104_729) % 14_000)
            return Int16(index % 2 == 0 ? value : -value)
        }
    }

    func fade(_ samples: ArraySlice<Int16>, rising: Bool, channels: Int = 1) -> [Int16] {
        var copy = Array(samples)
        copy.withUnsafeMutableBufferPointer {
            SampleMath.applyRamp(to: $0, channels: channels, length: $0.count, offset: 0, rising: rising)
        }
        return copy
    }

    /// Plays the device a period at a time until `done`: before each step it waits (up to 200 ms) for the audio
    /// thread to fill the device or to have handed it everything written, so the clock never outruns the thread
    /// unless the test wants it to. Gives up after `timeout` seconds.
    func pump(_ output: TestOutput, _ player: AudioPlayer, period: Int = 240, timeout: Double = 10,
                      until done: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !done() {
            guard Date() < deadline else { return XCTFail("the device did not get there in \(timeout) s") }
            let step = Date().addingTimeInterval(0.2)
            while output.queuedFrames < output.bufferFrames, player.devicePosition < player.writePosition || player.isPaused,
                  Date() < step {
                try await Task.sleep(for: .microseconds(300))
            }
            let queued = output.queuedFrames
            if queued > 0 { output.advance(frames: min(period, queued)) } else { try await Task.sleep(for: .milliseconds(1)) }
        }
    }

    func settle(_ player: AudioPlayer) async throws {
        // The thread publishes the played position once the device has drained (it polls at most every 20 ms).
        for _ in 0..<200 where player.playedPosition < player.writePosition { try await Task.sleep(for: .milliseconds(2)) }
    }
}
