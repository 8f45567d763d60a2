import Foundation
import XCTest
@testable import SpeakdAudio
import SpeakdCore

/// The player with real ALSA PCMs: the `file` plugin (byte-exact capture, unpaced) and a device that does not exist.
final class AudioPlayerTests: XCTestCase {
    private func capturePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("player-\(UUID().uuidString).raw").path
    }

    /// The capture once it holds `bytes` (ALSA's file plugin writes its buffer out a little after the device
    /// position passes it), or whatever it holds after two seconds.
    private func capture(_ path: String, expecting bytes: Int) throws -> Data {
        // The file itself appears only once the device is opened, which may come a little after a wait returns.
        let deadline = Date().addingTimeInterval(2)
        var data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        while data.count < bytes, Date() < deadline {
            usleep(10_000)
            data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    private func samples(_ count: Int, seed: Int) -> [Int16] {
        (0..<count).map { Int16(truncatingIfNeeded: ($0 &* 7919 &+ seed &* 104_729) % 30_000 - 15_000) }
    }

    func testSamplesReachTheDeviceExactlyAndPositionsAreReported() async throws {
        let path = capturePath()
        defer { unlink(path) }
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "file:FILE=\(path),FORMAT=raw"))
        defer { player.shutdown() }
        let audio = samples(50_000, seed: 1)
        let stream = player.beginStream()
        let start = stream.startPosition
        // Odd-sized writes larger than the ring's free space exercise the producer's waiting.
        var offset = 0
        for size in [1, 3, 4097, 20_000, 25_899] {
            try await player.write(Array(audio[offset..<(offset + size)]), format: .openAISpeech)
            offset += size
        }
        player.endStream()
        let end = player.writePosition
        XCTAssertEqual(end - start, 50_000)
        let started = await player.waitUntilStarted(stream)
        XCTAssertEqual(started, .reached)
        let played = await player.waitUntilPlayed(position: end, of: stream)
        XCTAssertEqual(played, .reached)
        let written = try capture(path, expecting: audio.count * 2)
        XCTAssertEqual(written, audio.withUnsafeBytes { Data($0) })
    }

    func testCutDiscardsQueuedAudioUntilReopen() async throws {
        let path = capturePath()
        defer { unlink(path) }
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "file:FILE=\(path),FORMAT=raw"))
        defer { player.shutdown() }
        let outcome = await player.cut()
        XCTAssertEqual(outcome, .reached)
        // Everything written after a cut and before reopen is thrown away (a producer that has not noticed the cut)…
        let stale = player.beginStream()
        try await player.write(samples(1_000, seed: 2), format: .openAISpeech)
        let staleEnd = player.writePosition
        player.endStream()
        player.reopen()
        // …and what follows plays.
        let stream = player.beginStream()
        let fresh = samples(2_000, seed: 3)
        try await player.write(fresh, format: .openAISpeech)
        player.endStream()
        _ = await player.waitUntilPlayed(position: staleEnd, of: stale)
        let played = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(played, .reached)
        XCTAssertEqual(try capture(path, expecting: fresh.count * 2), fresh.withUnsafeBytes { Data($0) })
    }

    func testAMissingDeviceFailsTheStreamInsteadOfHanging() async throws {
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "hw:77,0"))
        defer { player.shutdown() }
        let stream = player.beginStream()
        // More than the ring holds: the producer must not block for ever on a device that will never drain it.
        try await player.write(samples(400_000, seed: 4), format: .openAISpeech)
        player.endStream()
        let outcome = await player.waitUntilStarted(stream)
        guard case .deviceFailed(let error) = outcome else { return XCTFail("expected a device failure, got \(outcome)") }
        XCTAssertEqual(error.kind, .open)
        XCTAssertTrue(error.description.contains("hw:77,0"), error.description)
        XCTAssertEqual(player.lastDeviceError?.kind, .open)
    }

    func testARateChangeReopensTheDeviceAfterThePreviousAudio() async throws {
        let path = capturePath()
        defer { unlink(path) }
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "file:FILE=\(path),FORMAT=raw"))
        defer { player.shutdown() }
        let stream = player.beginStream()
        let first = samples(3_000, seed: 5)
        try await player.write(first, format: .openAISpeech)
        let second = samples(3_000, seed: 6)
        try await player.write(second, format: PCMFormat(sampleRate: 22_050))
        player.endStream()
        let played = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(played, .reached)
        // The file PCM is reopened (and truncated) at the new rate: it holds the second stream, whole.
        XCTAssertEqual(try capture(path, expecting: second.count * 2), second.withUnsafeBytes { Data($0) })
    }

    /// Waits (polling) until `position` has been played, for at most `seconds`; true if it was.
    private func played(_ player: AudioPlayer, upTo position: UInt64, within seconds: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while player.playedPosition < position {
            if Date() > deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// The ring counts samples, the device frames. A mono stream of odd length leaves the next stream starting at an
    /// odd ring position, so a stereo frame lands across the ring's end; and a producer may hand over half a frame.
    /// Neither may stall playback (it did: the job stayed "playing" for ever), nor shift the channels.
    func testStereoAfterAnOddMonoStreamPlaysWholeAcrossTheRingsEnd() async throws {
        let path = capturePath()
        defer { unlink(path) }
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "file:FILE=\(path),FORMAT=raw"))
        defer { player.shutdown() }
        let mono = player.beginStream()
        try await player.write(samples(3, seed: 7), format: .openAISpeech)
        player.endStream()
        let monoEnd = player.writePosition
        let monoPlayed = try await played(player, upTo: monoEnd, within: 10)
        XCTAssertTrue(monoPlayed)
        _ = mono

        let stereo = PCMFormat(sampleRate: 44_100, channels: 2)
        let stream = player.beginStream()
        // More than the ring holds, so it wraps at least once.
        let audio = samples(2 * player.ringCapacity + 10_000, seed: 8)
        var offset = 0
        for size in [4_097, 1, 3, 65_535, 2] + Array(repeating: 99_999, count: 20) where offset < audio.count {
            let end = min(offset + size, audio.count)
            try await player.write(Array(audio[offset..<end]), format: stereo)
            offset = end
        }
        player.endStream()
        let end = player.writePosition
        XCTAssertEqual(end - stream.startPosition, UInt64(audio.count))
        let reached = try await played(player, upTo: end, within: 20)
        XCTAssertTrue(reached, "playback stalled at \(player.playedPosition - stream.startPosition) of \(audio.count) samples")
        // The device was reopened for stereo: the capture holds exactly the stereo stream.
        XCTAssertEqual(try capture(path, expecting: audio.count * 2), audio.withUnsafeBytes { Data($0) })
    }
}
