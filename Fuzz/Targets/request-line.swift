// libFuzzer target: one socket request line (docs/protocol.md) through RequestParser.
// Properties: the parser never crashes; a refused line carries a message (and the line's id when it had one); an
// accepted request, encoded again the way clients encode requests (WireCodec.encodeRequest), parses to the same
// request.

@_cdecl("LLVMFuzzerTestOneInput")
public func requestLineFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let line = FuzzInput(data, size).bytes
    checkRequestLine(line)
    return 0
}
