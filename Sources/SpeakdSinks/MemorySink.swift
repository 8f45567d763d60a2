/// A seekable sink in memory: for tests, for streaming encoded bytes back to a client after the fact, and as the
/// holding area of encoders whose header needs the end of the stream when the real sink cannot seek.
///
/// Threading: not thread-safe; one owner at a time (see `EncodedSink`).
public final class MemorySink: EncodedSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var offset = 0
    public let name: String
    public var isSeekable: Bool { true }

    public init(name: String = "memory") {
        self.name = name
    }

    public func write(_ chunk: UnsafeRawBufferPointer) throws(EncoderError) {
        let overlap = min(chunk.count, bytes.count - offset)
        if overlap > 0 {
            bytes.withUnsafeMutableBytes { whole in
                UnsafeMutableRawBufferPointer(rebasing: whole[offset..<offset + overlap])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[0..<overlap]))
            }
        }
        if overlap < chunk.count {
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[overlap...]))
        }
        offset += chunk.count
    }

    public func seek(to position: Int) throws(EncoderError) {
        guard position >= 0, position <= bytes.count else {
            throw EncoderError(.misuse, "seek to \(position) outside the \(bytes.count) bytes of \(name)")
        }
        offset = position
    }

    /// Hands everything written so far to `sink` (which need not seek).
    public func drain(into sink: any EncodedSink) throws(EncoderError) {
        try sink.write(bytes)
    }
}
