import NIOCore
import NIOEmbedded

// libFuzzer target: the socket's byte stream, cut at random points, through the daemon's framing
// (LineFrameDecoder in a real NIO pipeline) and then RequestParser, line by line.
// Input: [max line length][plan length N][N bytes of split plan][stream].
// Properties: never crashes; framing does not depend on where the stream was cut; the frames are the stream's
// lines (a CR before LF dropped; a longer line than allowed reported with its length, not kept; a last line
// without newline counted); every line that parses round-trips (request-line's check).

@_cdecl("LLVMFuzzerTestOneInput")
public func requestStreamFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let maxLength = 1 + Int(input.byte()) * 4
    var plan = FuzzInput(input.take(Int(input.byte())))
    let stream = input.rest()

    let whole = framed([stream], maxLength: maxLength)
    let cut = framed(fuzzChunks(stream, plan: &plan), maxLength: maxLength)
    fuzzCheck(whole == cut, "framing depends on the cuts: \(whole) vs \(cut)")
    let expected = referenceFrames(stream, maxLength: maxLength)
    fuzzCheck(whole == expected, "frames \(whole), expected \(expected)")
    for frame in whole {
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

func framed(_ chunks: [[UInt8]], maxLength: Int) -> [PlainFrame] {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLength: maxLength)))
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
        for chunk in chunks {
            try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
            drain()
        }
        _ = try channel.finish()
        drain()
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
