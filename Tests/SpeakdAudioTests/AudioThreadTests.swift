import Foundation
import SpeakdCore
import XCTest
@testable import SpeakdAudio

/// The audio thread on `TestOutput` (simulated time, no ALSA): what reaches the "device", sample for sample, through
/// playback, cancels, pauses, format changes and underruns, and that it allocates nothing once the device is open.
final class AudioThreadTests: XCTestCase {
    func testEverySampleIsPlayedOnceInOrderAndPositionsFollow() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let audio = nonzeroSamples(30_001, seed: 1)
        let stream = player.beginStream()
        for piece in [audio[..<1], audio[1..<4_098], audio[4_098...]] {
            try await player.write(Array(piece), format: .openAISpeech)
        }
        player.endStream()
        try await pump(output, player) { output.heard.count >= audio.count }
        XCTAssertEqual(output.heard, audio)
        XCTAssertEqual(output.written, audio, "nothing written twice, nothing dropped")
        let played = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(played, .reached)
        XCTAssertEqual(player.underruns, 0)
        XCTAssertEqual(output.opens.map(\.format), [.openAISpeech])
    }

    /// A cancel cuts what the device holds, and the last sample heard is followed by a 2 ms fade of the very next
    /// samples, then nothing.
    func testCancelDropsTheDeviceAndFadesFromTheLastSampleHeard() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let audio = nonzeroSamples(48_000, seed: 2)
        let stream = player.beginStream()
        try await player.write(audio, format: .openAISpeech)
        player.endStream()
        try await pump(output, player) { output.heard.count >= 4_800 }
        let heardBefore = output.heard.count
        XCTAssertGreaterThan(output.queuedFrames, 0, "the device holds audio when the cancel comes")
        await player.discard(from: stream.startPosition, until: nil)
        player.closeOpenDiscard()
        try await pump(output, player) { output.queuedFrames == 0 && player.devicePosition == player.writePosition }
        let heard = output.heard
        let fadeLength = 48   // 2 ms at 24 kHz
        XCTAssertEqual(heard.count, heardBefore + fadeLength, "the held audio was dropped, the fade played, then nothing")
        XCTAssertEqual(Array(heard[..<heardBefore]), Array(audio[..<heardBefore]))
        XCTAssertEqual(Array(heard[heardBefore...]), fade(audio[heardBefore..<(heardBefore + fadeLength)], rising: false))
        XCTAssertGreaterThanOrEqual(output.drops.count, 1)
        try await settle(player)
        XCTAssertEqual(player.playedPosition, player.writePosition, "the discarded rest counts as done")
    }

    /// Pause plays out what the device holds, fades out the next 2 ms, then silence; resume fades in from the sample
    /// after those: none lost, none repeated.
    func testPauseAndResumeAreSampleExact() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let audio = nonzeroSamples(24_000, seed: 3)
        _ = player.beginStream()
        try await player.write(audio, format: .openAISpeech)
        player.endStream()
        try await pump(output, player) { output.heard.count >= 4_800 }
        await player.pause()
        XCTAssertTrue(player.isPaused)
        let fadeLength = 48
        let pausedAt = Int(player.devicePosition) - fadeLength
        let silenceWanted = output.heard.count + 4_800
        try await pump(output, player) { output.heard.count >= silenceWanted }
        await player.resume()
        try await pump(output, player) { !player.isPaused && output.queuedFrames == 0 && player.devicePosition == player.writePosition }
        let heard = output.heard
        let silence = heard.count - audio.count
        XCTAssertGreaterThanOrEqual(silence, 4_000, "silence kept the device running while paused")
        let expected = Array(audio[..<pausedAt])
            + fade(audio[pausedAt..<(pausedAt + fadeLength)], rising: false)
            + [Int16](repeating: 0, count: silence)
            + fade(audio[(pausedAt + fadeLength)..<(pausedAt + 2 * fadeLength)], rising: true)
            + Array(audio[(pausedAt + 2 * fadeLength)...])
        XCTAssertEqual(heard, expected)
        XCTAssertEqual(output.opens.count, 1, "the device stayed open through the pause")
    }

    /// A new format waits for the old audio to play out, then the device is reopened at it.
    func testAFormatChangeDrainsThenReopens() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let mono = nonzeroSamples(4_800, seed: 4)
        let stereo = nonzeroSamples(9_600, seed: 5)
        let stereoFormat = PCMFormat(sampleRate: 48_000, channels: 2)
        _ = player.beginStream()
        try await player.write(mono, format: .openAISpeech)
        let writer = Task {
            try await player.write(stereo, format: stereoFormat)
            player.endStream()
        }
        try await pump(output, player) { output.heard.count >= mono.count + stereo.count }
        try await writer.value
        XCTAssertEqual(output.heard, mono + stereo)
        XCTAssertEqual(output.opens.map(\.format), [.openAISpeech, stereoFormat])
        XCTAssertEqual(output.opens.last?.heardSamples, mono.count, "reopened only once the mono audio was heard")
        XCTAssertEqual(player.currentFormat, stereoFormat)
    }

    /// A device that runs dry while a stream is open is one underrun; the audio after it still plays exactly.
    func testARunDryDeviceCountsOneUnderrun() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let first = nonzeroSamples(2_400, seed: 6)
        let second = nonzeroSamples(2_400, seed: 7)
        _ = player.beginStream()
        try await player.write(first, format: .openAISpeech)
        try await pump(output, player) { output.heard.count >= 1_200 }
        // Let a lot of time pass at once: the device plays what it holds and underruns.
        for _ in 0..<200 where player.devicePosition < player.writePosition { try await Task.sleep(for: .milliseconds(1)) }
        output.advance(frames: 24_000)
        XCTAssertEqual(output.xruns, 1)
        for _ in 0..<500 where player.underruns == 0 { try await Task.sleep(for: .milliseconds(2)) }
        XCTAssertEqual(player.underruns, 1)
        try await player.write(second, format: .openAISpeech)
        player.endStream()
        try await pump(output, player) { output.heard.count >= first.count + second.count }
        XCTAssertEqual(output.heard, first + second)
        XCTAssertEqual(player.underruns, 1, "one dry spell, one underrun")
    }

    /// A device that fails mid-stream fails the stream's waiters instead of hanging them, and drops its audio.
    func testALostDeviceFailsTheStream() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        let stream = player.beginStream()
        try await player.write(nonzeroSamples(9_600, seed: 8), format: .openAISpeech)
        try await pump(output, player) { output.heard.count >= 480 }
        output.failWrites(true)
        output.advance(frames: 240)
        let outcome = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        guard case .deviceFailed(let error) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(error.kind, .write)
        XCTAssertNotNil(player.deviceProblem)
    }

    /// The thread's sleep follows the device's real period, and the output reports sizes in frames once open.
    func testTheOutputReportsItsPeriodAndBufferInFrames() async throws {
        let output = try TestOutput(periodFrames: 480, periods: 3)
        XCTAssertEqual(output.periodFrames, 0, "nothing granted before open")
        let player = try AudioPlayer(output: output)
        defer { player.shutdown() }
        _ = player.beginStream()
        try await player.write(nonzeroSamples(4_800, seed: 9), format: .openAISpeech)
        player.endStream()
        try await pump(output, player, period: 480) { output.heard.count >= 4_800 }
        XCTAssertEqual(output.periodFrames, 480)
        XCTAssertEqual(output.bufferFrames, 1_440)
    }

    /// The rewind reserve covers the largest configured buffer, so an exact pause holds at 2 s buffers too.
    func testTheRewindReserveFollowsTheConfiguredBuffer() throws {
        XCTAssertEqual(AudioPlayer.rewindReserve(bufferMicroseconds: 40_000, deviceFormat: nil), 24_000)
        let large = AudioPlayer.rewindReserve(bufferMicroseconds: 2_000_000, deviceFormat: nil)
        XCTAssertGreaterThanOrEqual(large, 2 * 192_000 * 2, "a 2 s buffer at 192 kHz stereo fits")
        let fixed = AudioPlayer.rewindReserve(bufferMicroseconds: 500_000, deviceFormat: PCMFormat(sampleRate: 48_000, channels: 2))
        XCTAssertGreaterThanOrEqual(fixed, 48_000)
        XCTAssertLessThan(fixed, 2 * 48_000)
        let player = try AudioPlayer(output: ALSAOutput(deviceName: "null", bufferMicroseconds: 2_000_000))
        defer { player.shutdown() }
        XCTAssertEqual(player.rewindReserve, large)
        XCTAssertGreaterThanOrEqual(player.ringCapacity, 240_000)
    }

    /// The null output takes everything at once and plays it nowhere: a stream ends and its waiters return.
    func testTheNullOutputNeverBlocks() async throws {
        let player = try AudioPlayer(output: NullOutput())
        defer { player.shutdown() }
        let stream = player.beginStream()
        try await player.write(nonzeroSamples(48_000, seed: 10), format: .openAISpeech)
        player.endStream()
        let played = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(played, .reached)
    }

    /// After speech the stream stops once 250 ms are quiet (ducked music comes back); speech that starts again within
    /// 1 s of such a stop comes in bursts (a screen reader's key echo), and then the stream waits 1 s of quiet, so
    /// neither the music pumps between keys nor each key pays for the stream's restart. A long quiet ends the burst.
    func testSpeechInBurstsKeepsTheStreamLonger() async throws {
        let output = try TestOutput()
        let player = try AudioPlayer(output: output, keepOpenMilliseconds: 30_000)
        defer { player.shutdown() }
        func say(_ seed: Int) async throws {
            let samples = nonzeroSamples(2_400, seed: seed)
            let before = output.heard.count
            _ = player.beginStream()
            try await player.write(samples, format: .openAISpeech)
            player.endStream()
            try await pump(output, player) { output.heard.count >= before + samples.count }
            try await settle(player)
        }
        try await say(1)
        try await Task.sleep(for: .milliseconds(800))
        XCTAssertEqual(output.idleStops, 1, "an utterance on its own: the stream stops after 250 ms of quiet")
        try await say(2)
        try await Task.sleep(for: .milliseconds(700))
        XCTAssertEqual(output.idleStops, 1, "speech again within 1 s of the stop: a burst, the stream waits 1 s")
        try await Task.sleep(for: .milliseconds(1_000))
        XCTAssertEqual(output.idleStops, 2)
        try await Task.sleep(for: .milliseconds(1_000))
        try await say(3)
        try await Task.sleep(for: .milliseconds(800))
        XCTAssertEqual(output.idleStops, 3, "after more than 1 s of quiet the burst is over: 250 ms again")
        XCTAssertEqual(output.opens.count, 1, "the device stayed open throughout")
    }
}
