import NIOCore
import NIOEmbedded

// libFuzzer target: the socket's byte stream, cut at random points, through the daemon's framing
// (LineFrameDecoder in ByteToMessageHandler, as ControlServer installs it) and then RequestParser, line by line.
// Input: [max line length][plan length N][N bytes of split plan][stream].
// Properties: never crashes; the frames are the stream's lines whatever the cuts (a CR before LF dropped; a longer
// line than allowed reported with its length, not kept; a last line without newline counted at end of input): they
// equal a plain reference splitter, which never sees the cuts; every line that parses round-trips (request-line's
// check).
//
// Speed: one EmbeddedChannel serves every input (no event loop threads; everything runs inline). Each input gets a
// fresh handler, its end of input as the daemon sees it (ChannelEvent.inputClosed, which makes ByteToMessageHandler
// call decodeLast), and the handler is removed again. Building and closing a channel per input (and framing each
// input twice, whole and cut) cost 3–4 times as much.

@_cdecl("LLVMFuzzerTestOneInput")
public func requestStreamFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let maxLength = 1 + Int(input.byte()) * 4
    var plan = FuzzInput(input.take(Int(input.byte())))
    let stream = input.rest()

    let cut = framed(fuzzChunks(stream, plan: &plan), maxLength: maxLength)
    let expected = referenceFrames(stream, maxLength: maxLength)
    fuzzCheck(cut == expected, "frames \(cut), expected \(expected) (the same stream, whole, through the reference)")
    for frame in cut {
        if case .line(let line) = frame { checkRequestLine(line) }
    }
    return 0
}

enum PlainFrame: Equatable, CustomStringConvertible {
    case line([UInt8]), tooLong(Int)
    var description: String {
        switch self {
        case .line(let bytes): "line(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case .tooLong(let count): "tooLong(\(count))"
        }
    }
}

/// The channel every input goes through (libFuzzer calls the target from one thread).
nonisolated(unsafe) let channel = EmbeddedChannel()

func framed(_ chunks: [[UInt8]], maxLength: Int) -> [PlainFrame] {
    var frames: [PlainFrame] = []
    func drain() {
        while let frame = try? channel.readInbound(as: LineFrame.self) {
            switch frame {
            case .line(let buffer): frames.append(.line(Array(buffer.readableBytesView)))
            case .tooLong(let bytes): frames.append(.tooLong(bytes))
            }
        }
    }
    do {
        let handler = ByteToMessageHandler(LineFrameDecoder(maxLength: maxLength))
        try channel.pipeline.syncOperations.addHandler(handler)
        for chunk in chunks {
            try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
            drain()
        }
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        drain()
        let removed = channel.pipeline.syncOperations.removeHandler(handler)
        channel.embeddedEventLoop.run()
        try removed.wait()
        try channel.throwIfErrorCaught()
        fuzzCheck(try channel.readInbound(as: ByteBuffer.self) == nil, "bytes left over after the end of input")
    } catch {
        fuzzFail("the framing threw \(error)")
    }
    return frames
}

/// What the framing should produce, written plainly.
func referenceFrames(_ stream: [UInt8], maxLength: Int) -> [PlainFrame] {
    var frames: [PlainFrame] = []
    var pieces = stream.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
    let last = pieces.removeLast()   // after the final newline: empty, or a line without one
    for piece in pieces {
        if piece.count > maxLength {
            frames.append(.tooLong(piece.count))
        } else {
            frames.append(.line(piece.last == UInt8(ascii: "\r") ? Array(piece.dropLast()) : piece))
        }
    }
    if !last.isEmpty && last.count <= maxLength { frames.append(.line(last)) }
    return frames
}
