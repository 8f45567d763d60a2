import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Writes whole lines to a descriptor (stdout to speech-dispatcher) with one `write` per batch: nothing is buffered,
/// so every line is on its way when `write` returns (the equivalent of the reference modules' `fflush`).
///
/// Threading: not thread-safe by itself; the module's lock serializes all writers, which keeps the lines of one
/// reply together and events out of replies.
public struct LineWriter: Sendable {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    /// False when the reader is gone (speech-dispatcher exited).
    @discardableResult
    public func write(_ lines: [String]) -> Bool {
        guard !lines.isEmpty else { return true }
        var bytes: [UInt8] = []
        for line in lines {
            bytes += line.utf8
            bytes.append(UInt8(ascii: "\n"))
        }
        // writeAll retries EINTR and short writes.
        return (try? FileDescriptor(rawValue: fd).writeAll(bytes)) != nil
    }
}

/// Reads lines (without their `\n`) from a descriptor, blocking.
///
/// Threading: one thread uses a reader.
public struct LineReader {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 16_384)

    public init(fd: Int32) { self.fd = fd }

    /// The next line, or nil at end of input.
    public mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let fd = self.fd
            let count = (try? chunk.withUnsafeMutableBytes { try FileDescriptor(rawValue: fd).read(into: $0) }) ?? -1
            if count <= 0 {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer += chunk[0..<count]
        }
    }
}
