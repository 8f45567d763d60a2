import Foundation
import SpeakdAudio
import SpeakdCore
@testable import SpeakdSnapcast
import XCTest

/// The Snapcast output against a loopback listener standing in for snapserver's TCP source (server mode): what
/// arrives, in which format, at what pace, and when the connection ends. The real snapserver is in
/// SpeakdIntegrationTests/SnapcastTests.
final class SnapcastOutputTests: XCTestCase {
    func testAloneItSendsTheSourceFormatInRealTimeAndDisconnectsAfterSpeech() async throws {
        let listener = try Listener()
        let output = try SnapcastOutput(source: SnapcastSource(uri: "tcp://127.0.0.1:\(listener.port)", sampleFormat: "48000:16:2"),
                                        bufferMilliseconds: 0, log: { _ in })
        let player = try AudioPlayer(output: output, keepOpenMilliseconds: 2_000)
        defer { player.shutdown(); output.shutdown() }
        let receiving = Task.detached { try listener.receiveUntilClosed(timeout: 8) }
        let tone = (0..<24_000).map { Int16(8_000 * sin(Double($0) * 2 * .pi * 440 / 24_000)) }
        let stream = player.beginStream()
        try await player.write(tone, format: .openAISpeech)
        player.endStream()
        let started = Date()
        let outcome = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(outcome, .reached)
        let received = try await receiving.value
        // One second at 48 kHz stereo s16 (192,000 bytes), give or take the resampler's edges, and the 60 ms of
        // silence that push snapserver's last partial chunk out (11,520 bytes).
        XCTAssertEqual(Double(received.bytes.count), 192_000 + 11_520, accuracy: 2_000)
        // Paced: the last byte left about a second after the first, not in a burst.
        XCTAssertGreaterThan(received.lastByte.timeIntervalSince(received.firstByte), 0.8)
        // Disconnected once the speech had ended (the 250 ms quiet stop), long before the device closes.
        XCTAssertLessThan(received.closed.timeIntervalSince(started), 1.8)
        let left = received.samples.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let right = received.samples.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        XCTAssertEqual(left, right, "mono is copied to both channels")
        XCTAssertGreaterThan(left.map { abs(Int($0)) }.max() ?? 0, 7_000)
        XCTAssertEqual(output.status.connected, false)
        XCTAssertGreaterThan(output.status.sentFrames, 47_000)
    }

    func testAPipeSourceGetsTheAudioAndNoReaderIsReported() async throws {
        let path = NSTemporaryDirectory() + "speakd-snapfifo-\(UUID().uuidString)"
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        defer { unlink(path) }
        let log = LogLines()
        let output = try SnapcastOutput(source: SnapcastSource(uri: "pipe://\(path)", sampleFormat: "24000:16:1"),
                                        bufferMilliseconds: 0, log: log.sink)
        let player = try AudioPlayer(output: output)
        defer { player.shutdown(); output.shutdown() }
        // No reader yet (snapserver not running): the job still ends, and the reason is reported.
        var stream = player.beginStream()
        try await player.write([Int16](repeating: 500, count: 2_400), format: .openAISpeech)
        player.endStream()
        let first = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(first, .reached)
        XCTAssertTrue(output.status.lastError?.contains("no reader") == true, "\(String(describing: output.status.lastError))")
        // A reader (snapserver's end of the pipe): the next stream arrives whole, in the source's format as sent.
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        try await Task.sleep(for: .milliseconds(600))   // the device's keep-open quiet stop ends the failed stream
        let tone = (0..<12_000).map { Int16(truncatingIfNeeded: $0 % 2_000 - 1_000) }
        stream = player.beginStream()
        try await player.write(tone, format: .openAISpeech)
        player.endStream()
        let second = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(second, .reached)
        var received: [Int16] = []
        var buffer = [Int16](repeating: 0, count: 4_096)
        let deadline = Date().addingTimeInterval(3)
        let padding = 24_000 * 60 / 1_000   // the silence after a pause in the input
        while received.count < tone.count + padding, Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
            if count > 0 { received += buffer[..<(count / 2)] } else { try await Task.sleep(for: .milliseconds(10)) }
        }
        XCTAssertTrue(received.prefix(tone.count).elementsEqual(tone), "the pipe did not get the stream sample for sample")
        XCTAssertEqual(received.count, tone.count + padding)
        XCTAssertTrue(received.dropFirst(tone.count).allSatisfy { $0 == 0 }, "not silence after the speech")
        // The reader goes away (snapserver stopped): the next write fails with EPIPE, which is reported, rather than
        // a SIGPIPE ending the process; the job still ends.
        stream = player.beginStream()
        try await player.write(tone + tone + tone + tone, format: .openAISpeech)
        player.endStream()
        try await Task.sleep(for: .milliseconds(300))
        close(reader)
        let third = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(third, .reached)
        XCTAssertTrue(log.all.contains { $0.contains("went away") }, "\(log.all)")
    }

    func testAnAbsentServerLosesOnlyTheRoomsAudioAndIsReported() async throws {
        let port = try Listener.unusedPort()
        let output = try SnapcastOutput(source: SnapcastSource(uri: "tcp://127.0.0.1:\(port)", sampleFormat: "48000:16:2"),
                                        bufferMilliseconds: 0, log: { _ in })
        let player = try AudioPlayer(output: output)
        defer { player.shutdown(); output.shutdown() }
        let stream = player.beginStream()
        try await player.write([Int16](repeating: 1_000, count: 4_800), format: .openAISpeech)
        player.endStream()
        let outcome = await player.waitUntilPlayed(position: player.writePosition, of: stream)
        XCTAssertEqual(outcome, .reached, "the job still ends")
        XCTAssertEqual(output.status.connected, false)
        XCTAssertTrue(output.status.lastError?.contains("refused") == true, "\(String(describing: output.status.lastError))")
    }
}

/// A one-connection TCP listener on loopback that records what it receives and when.
final class Listener: @unchecked Sendable {
    let socket: Int32
    let port: Int

    struct Received {
        var bytes = Data()
        var firstByte = Date.distantFuture
        var lastByte = Date.distantPast
        var closed = Date.distantFuture
        var samples: [Int16] { bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) } }
    }

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.socket = socket
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        listen(socket, 4)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socket) }

    static func unusedPort() throws -> Int {
        let listener = try Listener()
        return listener.port
    }

    /// Accepts one connection and reads it to its end.
    func receiveUntilClosed(timeout: Double) throws -> Received {
        var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1_000)) > 0 else { throw CocoaError(.fileReadUnknown) }
        let client = accept(socket, nil, nil)
        defer { close(client) }
        var received = Received()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var entry = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { received.closed = Date(); break }
            if received.bytes.isEmpty { received.firstByte = Date() }
            received.lastByte = Date()
            received.bytes.append(contentsOf: buffer[..<count])
        }
        return received
    }
}
