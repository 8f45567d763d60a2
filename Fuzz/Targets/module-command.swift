#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target: speech-dispatcher's module protocol on the module's standard input (LineReader, then
// ModuleCommandReader).
// Properties: never crashes; the reader answers as the protocol's blocks say (a block's lines return nothing until
// its "." line, which returns the block's command; outside a block every line returns something); and a message
// escaped as speech-dispatcher escapes it (a line starting with "." gets another) arrives as sent.

@_cdecl("LLVMFuzzerTestOneInput")
public func moduleCommandFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    if input.byte() % 2 == 0 {
        checkCommandStream(input.rest())
    } else {
        checkMessageRoundTrip(String(decoding: input.rest(), as: UTF8.self))
    }
    return 0
}

/// The lines LineReader reads from a pipe holding `bytes`.
func linesThroughPipe(_ bytes: [UInt8]) -> [String] {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { fuzzFail("pipe: \(errno)") }
    let payload = Array(bytes.prefix(60_000))   // under the pipe's capacity: one writer, no thread
    var offset = 0
    while offset < payload.count {
        let written = payload.withUnsafeBytes { write(fds[1], $0.baseAddress! + offset, $0.count - offset) }
        guard written > 0 else { fuzzFail("write to pipe: \(errno)") }
        offset += written
    }
    close(fds[1])
    var reader = LineReader(fd: fds[0])
    var lines: [String] = []
    while let line = reader.next() { lines.append(line) }
    close(fds[0])
    let expected = payload.isEmpty ? 0 : payload.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        - (payload.last == UInt8(ascii: "\n") ? 1 : 0)
    fuzzCheck(lines.count == expected, "LineReader read \(lines.count) lines, expected \(expected)")
    return lines
}

let blockOpeners: Set<String> = ["AUDIO", "LOGLEVEL", "SET", "SPEAK", "CHAR", "KEY", "SOUND_ICON"]

func checkCommandStream(_ bytes: [UInt8]) {
    var reader = ModuleCommandReader()
    var inBlock = false
    for line in linesThroughPipe(bytes) {
        let output = reader.feed(line)
        let bare = line.hasSuffix("\r") ? String(line.dropLast()) : line
        if inBlock {
            if bare == "." {
                guard case .command? = output else { fuzzFail("a block's \".\" line gave \(String(describing: output))") }
                inBlock = false
            } else {
                fuzzCheck(output == nil, "a line inside a block gave \(String(describing: output))")
            }
        } else if blockOpeners.contains(bare) {
            guard case .acknowledge? = output else { fuzzFail("\(bare) was not acknowledged: \(String(describing: output))") }
            inBlock = true
        } else {
            guard case .command? = output else { fuzzFail("line \(bare.debugDescription) gave \(String(describing: output))") }
        }
    }
}

func checkMessageRoundTrip(_ text: String) {
    let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
    // speech-dispatcher cannot send a line that ends in CR as such: the reader strips it (CRLF peers).
    guard !lines.contains(where: { $0.hasSuffix("\r") }) else { return }
    var stream = "SPEAK\n"
    for line in lines { stream += (line.hasPrefix(".") ? "." + line : line) + "\n" }
    stream += ".\n"
    var reader = ModuleCommandReader()
    var outputs: [ModuleCommandReader.Output] = []
    for line in linesThroughPipe(Array(stream.utf8)) { if let output = reader.feed(line) { outputs.append(output) } }
    guard outputs.count == 2, case .command(.speak(let received)) = outputs[1] else {
        fuzzFail("SPEAK of \(text.debugDescription) gave \(outputs)")
    }
    fuzzCheck(Array(received.utf8) == Array(text.utf8), "SPEAK sent \(text.debugDescription), received \(received.debugDescription)")
}
