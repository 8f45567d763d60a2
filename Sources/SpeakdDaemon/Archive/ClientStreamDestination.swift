#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SpeakdEncoding

/// A tap destination that is the client's own file, on the other side of the socket: every write becomes an
/// `audio` event with the bytes (base64) and the `offset` they go to, so encoders can still seek back and patch
/// their headers (the client writes at that offset). `commit` sends the last event with `end` and the file's
/// `length`, after which the client fsyncs and renames its file.
///
/// Threading: confined to the owning tap's queue.
final class ClientStreamDestination: TapDestination {
    let stream: ClientStreamSink

    init(send: @escaping @Sendable (_ offset: Int, _ bytes: [UInt8]) -> Void,
         end: @escaping @Sendable (_ length: Int) -> Void) {
        stream = ClientStreamSink(send: send, end: end)
    }

    func prepare() throws(EncoderError) {}

    var sink: any EncodedSink { stream }

    func commit() throws(EncoderError) -> String? {
        try stream.flush()
        stream.finish()
        return nil
    }

    func discard() {}
}

/// The seekable sink behind `ClientStreamDestination`: gathers contiguous writes into pieces of up to 48 KiB
/// (64 KiB once in base64) and hands each piece, with its offset, to `send`.
///
/// Threading: not thread-safe; one owner at a time (see `EncodedSink`).
final class ClientStreamSink: EncodedSink {
    let name = "the client's file"
    let isSeekable = true
    private(set) var offset = 0
    /// The highest offset written: the file's length.
    private(set) var length = 0
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private let send: @Sendable (Int, [UInt8]) -> Void
    private let end: @Sendable (Int) -> Void

    static let pieceBytes = 48 * 1024

    init(send: @escaping @Sendable (Int, [UInt8]) -> Void, end: @escaping @Sendable (Int) -> Void) {
        self.send = send
        self.end = end
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(EncoderError) {
        if pending.isEmpty { pendingStart = offset }
        pending.append(contentsOf: bytes)
        offset += bytes.count
        length = max(length, offset)
        while pending.count >= Self.pieceBytes {
            send(pendingStart, Array(pending[..<Self.pieceBytes]))
            pending.removeFirst(Self.pieceBytes)
            pendingStart += Self.pieceBytes
        }
    }

    func seek(to target: Int) throws(EncoderError) {
        guard target >= 0, target <= length else {
            throw EncoderError(.misuse, "seek to \(target) outside the \(length) bytes of \(name)")
        }
        try flush()
        offset = target
    }

    func flush() throws(EncoderError) {
        guard !pending.isEmpty else { return }
        send(pendingStart, pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Sends the end of the stream with its length.
    func finish() {
        end(length)
    }
}
