import Foundation
import SpeakdClient
import SpeakdProtocol
import XCTest

/// Bad input on the socket: each gets a clear error or meets a limit, and nobody else notices.
final class SocketAbuseTests: IntegrationTestCase {
    private func startDaemon(_ config: String = "") throws -> DaemonProcess {
        let file = directory.appendingPathComponent("speakd.toml")
        try ("engine = \"espeak-ng\"\n" + config).write(to: file, atomically: true, encoding: .utf8)
        return try DaemonProcess(arguments: ["--config", file.path, "--device", "null"], in: directory)
    }

    /// A raw connection: bytes in, lines out, with a receive timeout so a test never hangs.
    private final class RawClient: @unchecked Sendable {
        let fd: Int32
        private var buffer: [UInt8] = []

        init(path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                path.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else { close(fd); throw HarnessError("connect failed: \(errno)") }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written <= 0 { return }
                offset += written
            }
        }

        func send(_ text: String) { send(Array(text.utf8)) }

        /// The next line that is not an event.
        func reply() throws -> [String: Any] {
            while true {
                if let newline = buffer.firstIndex(of: 10) {
                    let line = Data(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] ?? [:]
                    if object["event"] == nil { return object }
                    continue
                }
                var chunk = [UInt8](repeating: 0, count: 65_536)
                let count = read(fd, &chunk, chunk.count)
                guard count > 0 else { throw HarnessError("no reply (read returned \(count), errno \(errno))") }
                buffer += chunk[0..<count]
            }
        }
    }

    private func code(_ reply: [String: Any]) -> String? { (reply["error"] as? [String: Any])?["code"] as? String }

    func testMalformedRequestsGetClearErrorsAndTheConnectionStaysUsable() throws {
        let daemon = try startDaemon()
        let client = try RawClient(path: daemon.socketPath)
        let cases: [([UInt8], String)] = [
            (Array("not json\n".utf8), "invalid_json"),
            ([0xFF, 0xFE, 0x7B, 0x0A], "invalid_json"),
            (Array("[1,2]\n".utf8), "invalid_request"),
            (Array(#"{"op":"dance"}"#.utf8) + [10], "unknown_op"),
            (Array(#"{"op":"speak"}"#.utf8) + [10], "invalid_field"),
            (Array(#"{"op":"speak","input":5}"#.utf8) + [10], "invalid_field"),
            (Array(#"{"op":"speak","input":"x","speed":10}"#.utf8) + [10], "invalid_field"),
            (Array(#"{"op":"speak","input":"x","priority":"urgent"}"#.utf8) + [10], "invalid_field"),
            (Array(#"{"op":"cancel"}"#.utf8) + [10], "invalid_field"),
            (Array(#"{"op":"ping","v":2}"#.utf8) + [10], "unsupported_version"),
        ]
        for (bytes, expected) in cases {
            client.send(bytes)
            let reply = try client.reply()
            XCTAssertEqual(reply["ok"] as? Bool, false, "\(String(decoding: bytes, as: UTF8.self))")
            XCTAssertEqual(code(reply), expected, "\(String(decoding: bytes, as: UTF8.self)): \(reply)")
            XCTAssertNotNil((reply["error"] as? [String: Any])?["message"] as? String)
        }
        client.send(#"{"id":"still","op":"ping"}"# + "\n")
        XCTAssertEqual(try client.reply()["id"] as? String, "still")
    }

    func testAHundredMegabyteLineIsRefusedWithoutHurtingAnyone() throws {
        let daemon = try startDaemon()
        let rssBefore = try daemon.residentKilobytes()
        let flooder = try RawClient(path: daemon.socketPath)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        let other = try daemon.connect()
        let sender = Thread {
            flooder.send(Array(#"{"op":"speak","input":""#.utf8))
            for _ in 0..<100 { flooder.send(chunk) }
            flooder.send(Array("\"}\n".utf8))
        }
        sender.start()
        // While the flood goes on, another client is served.
        XCTAssertTrue(try other.request("ping").ok)
        let reply = try flooder.reply()
        XCTAssertEqual(code(reply), "invalid_request")
        XCTAssertTrue((reply["error"] as? [String: Any])?["message"].map { "\($0)".contains("exceeds the limit") } == true, "\(reply)")
        flooder.send(#"{"op":"ping","id":1}"# + "\n")
        XCTAssertEqual(try flooder.reply()["ok"] as? Bool, true, "the flooding connection is still usable after its error")
        XCTAssertLessThan(try daemon.residentKilobytes() - rssBefore, 32_768, "the line was buffered instead of discarded")
    }

    func testHalfLinesDisconnectsAndAThousandConnectionsLeaveOthersServed() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, 8_192)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let daemon = try startDaemon("[limits]\nmax_connections = 1100\n")
        // A slow client: half a request, then nothing.
        let slow = try RawClient(path: daemon.socketPath)
        slow.send(#"{"op":"speak","inp"#)
        // A client that disconnects in the middle of a request.
        do {
            let quitter = try RawClient(path: daemon.socketPath)
            quitter.send(#"{"op":"speak","input":"Half a sen"#)
        }
        var crowd: [RawClient] = []
        for _ in 0..<1_000 { crowd.append(try RawClient(path: daemon.socketPath)) }
        let client = try daemon.connect()
        XCTAssertTrue(try client.request("ping").ok)
        let result = try daemon.speakctl(["--wait", "Still here."])
        XCTAssertEqual(result.status, 0, result.stderr)
        // Past the limit: a clear refusal.
        var over: [RawClient] = []
        for _ in 0..<150 { over.append(try RawClient(path: daemon.socketPath)) }
        XCTAssertEqual(code(try over.last!.reply()), "too_many_connections")
        crowd.removeAll()
        over.removeAll()
        usleep(300_000)
        XCTAssertTrue(try daemon.connect().request("ping").ok)
    }

    func testTheQueueIsBounded() throws {
        let daemon = try startDaemon("[limits]\nmax_queued_jobs = 3\n")
        let client = try daemon.connect()
        var refused: Reply?
        for number in 0..<10 {
            let reply = try client.request("speak", ["input": .string("Job number \(number) is long enough to wait a little while.")])
            if !reply.ok { refused = reply; break }
        }
        XCTAssertEqual(refused?.error?.code, .queueFull)
        XCTAssertEqual(try client.request("stop").ok, true)
        XCTAssertTrue(try client.request("speak", ["input": .string("Room again.")]).ok)
    }

    /// `[limits] max_line_bytes`, `max_text_characters` and `max_unread_bytes` are the limits the daemon applies.
    func testLineTextAndUnreadLimitsAreConfigurable() throws {
        let daemon = try startDaemon("[limits]\nmax_line_bytes = 2048\nmax_text_characters = 100\nmax_unread_bytes = 65536\n")
        let raw = try RawClient(path: daemon.socketPath)
        raw.send(#"{"op":"speak","input":""# + String(repeating: "a", count: 3000) + "\"}\n")
        let tooLong = try raw.reply()
        XCTAssertEqual(code(tooLong), "invalid_request")
        XCTAssertTrue("\(tooLong)".contains("2048 bytes"), "\(tooLong)")

        let client = try daemon.connect()
        let refused = try client.request("speak", ["input": .string(String(repeating: "word ", count: 21))])
        XCTAssertEqual(refused.error?.code, .invalidField)
        XCTAssertEqual(refused.error?.field, "input")
        XCTAssertTrue(refused.error?.message.contains("at most 100") == true, refused.error?.message ?? "")
        XCTAssertTrue(try client.request("speak", ["input": .string("Short enough.")]).ok)

        // A subscriber that never reads is dropped after 64 KiB of events unread beyond what the kernel's socket
        // buffer holds (about 200 kB), not after 4 MiB: 2,000 jobs make about 600 kB of events.
        let silent = try RawClient(path: daemon.socketPath)
        silent.send(#"{"op":"subscribe"}"# + "\n")
        for number in 0..<2_000 {
            do {
                _ = try client.request("speak", ["input": .string("Event \(number)."), "priority": .string("notification")])
            } catch {
                XCTFail("request \(number): \(error); daemon log: \(String(decoding: daemon.child.stderrSoFar.suffix(3000), as: UTF8.self))")
                return
            }
        }
        let log = daemon.child.stderrSoFar
        let deadline = Date().addingTimeInterval(10)
        var dropped = false
        while Date() < deadline {
            if String(decoding: daemon.child.stderrSoFar, as: UTF8.self).contains("does not read its events") { dropped = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(dropped, "the silent subscriber was not dropped: \(String(decoding: log.suffix(2000), as: UTF8.self))")
    }
}
