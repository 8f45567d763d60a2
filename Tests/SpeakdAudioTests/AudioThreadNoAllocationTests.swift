import CAllocationProbe
import Foundation
import SpeakdCore
import XCTest
@testable import SpeakdAudio
import SpeakdSnapcast

/// "The audio thread never allocates", in-process and without ALSA: CAllocationProbe counts heap allocations on the
/// thread named `speakd-audio`. A class of its own, out of the ThreadSanitizer run (that runtime brings its own
/// allocator, so the probe is left out of such builds).
final class AudioThreadNoAllocationTests: XCTestCase {
    /// Once the device is open, playing, pausing, resuming, cancelling and starting the next stream allocate nothing
    /// on the audio thread (the in-process probe counts its heap allocations). A first round warms up what is done
    /// once per process (the device's open, the runtime's type metadata in a debug build); the second is measured.
    func testTheAudioThreadDoesNotAllocateOnceTheDeviceIsOpen() async throws {
        let output = try TestOutput()
        try await checkNoAllocation(output: output, player: try AudioPlayer(output: output))
    }

    /// The same with the Snapcast output beside the device (an `OutputGroup`): copying to it, cutting it, draining
    /// and stopping its stream allocate nothing on the audio thread either (its own thread does the rest).
    func testNorWithTheSnapcastOutputBesideTheDevice() async throws {
        let output = try TestOutput()
        let house = try SnapcastOutput(source: SnapcastSource(uri: "tcp://127.0.0.1:9", sampleFormat: "48000:16:2"),
                                       bufferMilliseconds: 400, prerollMilliseconds: 500, log: { _ in })
        defer { house.shutdown() }
        let player = try AudioPlayer(output: OutputGroup(primary: output, mirrors: [house]))
        try await checkNoAllocation(output: output, player: player)
    }

    private func checkNoAllocation(output: TestOutput, player: AudioPlayer) async throws {
        XCTAssertEqual(speakd_allocation_probe_available(), 1, "built under a sanitizer: the probe is left out")
        speakd_allocation_probe_start()
        defer { speakd_allocation_probe_stop() }
        defer { player.shutdown() }

        func round(_ seed: Int) async throws {
            let start = output.heard.count
            let stream = player.beginStream()
            try await player.write(nonzeroSamples(24_000, seed: seed), format: .openAISpeech)
            try await pump(output, player) { output.heard.count >= start + 2_400 }
            await player.pause()
            try await pump(output, player) { output.heard.count >= start + 7_200 }
            await player.resume()
            try await pump(output, player) { output.heard.count >= start + 12_000 }
            await player.discard(from: stream.startPosition, until: nil)
            player.closeOpenDiscard()
            player.endStream()
            let next = player.beginStream()
            try await player.write(nonzeroSamples(4_800, seed: seed + 1), format: .openAISpeech)
            player.endStream()
            try await pump(output, player) { player.devicePosition == player.writePosition && output.queuedFrames == 0 }
            _ = await player.waitUntilPlayed(position: player.writePosition, of: next)
        }

        try await round(11)
        let warm = speakd_allocation_probe_count()
        XCTAssertGreaterThan(warm, 0, "opening the device allocates (TestOutput records the open): is the probe live?")
        try await round(21)
        XCTAssertEqual(speakd_allocation_probe_count(), warm, "the audio thread allocated in the steady state")
    }
}
