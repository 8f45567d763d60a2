import NIOCore

/// One unit read from a client: a complete line, or the news that a line was longer than allowed.
public enum LineFrame: Sendable {
    case line(ByteBuffer)
    /// The line was discarded up to its newline; the client gets an error, and the connection stays usable.
    case tooLong(bytes: Int)
}

/// Splits the byte stream at `\n` (a trailing `\r` is dropped, for `socat CRLF` users), bounding memory: a line
/// longer than `maxLength` is skipped, not buffered.
///
/// Threading: a NIO channel handler; used on its channel's event loop only.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = LineFrame
    let maxLength: Int
    private var discarding = 0
    private var scanned = 0

    init(maxLength: Int) { self.maxLength = maxLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let searchStart = view.startIndex + scanned
        guard let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) else {
            if discarding > 0 || view.count > maxLength {
                discarding += view.count
                buffer.moveReaderIndex(forwardBy: view.count)
                scanned = 0
            } else {
                scanned = view.count
            }
            return .needMoreData
        }
        let length = newline - view.startIndex
        scanned = 0
        if discarding > 0 || length > maxLength {
            let total = discarding + length
            discarding = 0
            buffer.moveReaderIndex(forwardBy: length + 1)
            context.fireChannelRead(wrapInboundOut(.tooLong(bytes: total)))
            return .continue
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        context.fireChannelRead(wrapInboundOut(.line(line)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without its newline (e.g. `printf '{"op":"stop"}' | socat`) still counts.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0, discarding == 0 {
            let line = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }
}
