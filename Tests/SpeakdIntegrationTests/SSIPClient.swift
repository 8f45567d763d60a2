import Foundation

/// A plain SSIP client (the line protocol of speech-dispatcher's clients: CRLF lines, `NNN-` continuation).
///
/// Threading: one test thread at a time; reads only while a call waits, so an event's time is when it was read.
final class SSIPClient {
    private let handle: FileHandle
    private var buffer = Data()
    /// Event lines (`7xx`) read while a command waited for its reply, kept for the next `readUntil`.
    private var events: [(time: Date, line: String)] = []

    init(path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw HarnessError("cannot connect to speech-dispatcher at \(path)") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func send(_ text: String) throws { try handle.write(contentsOf: Data(text.utf8)) }

    /// Sends one command and returns the final line of its reply (events arriving meanwhile are kept).
    func command(_ line: String) throws -> String {
        try send(line + "\r\n")
        var inEvent = false
        while true {
            let reply = try readLine(timeout: 5)
            if inEvent || reply.hasPrefix("7") {
                events.append((Date(), reply))
                inEvent = !(reply.count >= 4 && reply[reply.index(reply.startIndex, offsetBy: 3)] == " ")
                continue
            }
            if reply.count >= 4, reply[reply.index(reply.startIndex, offsetBy: 3)] == " " { return reply }
        }
    }

    func readUntil(_ last: String, timeout: TimeInterval) throws -> [String] {
        try readUntilTimed(last, timeout: timeout).map(\.line)
    }

    /// The lines up to and including `last`, each with the time it arrived (the client polls every 50 ms at most,
    /// and reads as soon as data comes).
    func readUntilTimed(_ last: String, timeout: TimeInterval) throws -> [(time: Date, line: String)] {
        var lines: [(time: Date, line: String)] = []
        while !events.isEmpty {
            lines.append(events.removeFirst())
            if lines.last?.line == last { return lines }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let line: String
            do { line = try readLine(timeout: deadline.timeIntervalSinceNow) } catch {
                throw HarnessError("\(error) waiting for \(last) after \(lines.map(\.line))")
            }
            lines.append((Date(), line))
            if line == last { return lines }
        }
    }

    /// Mark names of `700` events (`700-NAME` then `700 INDEX MARK`) with their arrival times.
    static func marks(in events: [(time: Date, line: String)]) -> [(time: Date, name: String)] {
        events.indices.dropLast().compactMap { index in
            events[index + 1].line == "700 INDEX MARK" ? (events[index].time, String(events[index].line.dropFirst(4))) : nil
        }
    }

    private func readLine(timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[buffer.startIndex..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            guard Date() < deadline else { throw HarnessError("SSIP: timed out; have \(String(decoding: buffer, as: UTF8.self))") }
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let data = handle.availableData
            guard !data.isEmpty else { throw HarnessError("SSIP: speech-dispatcher closed the connection") }
            buffer += data
        }
    }
}
