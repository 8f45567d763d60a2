#if canImport(Glibc)
import Glibc
#endif

/// Reads choices (split points, lengths, flags) out of a fuzzer's input, front to back; past the end every read
/// returns zero, so a short input is still a valid plan.
///
/// Threading: a value type for one fuzz iteration.
struct FuzzInput {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(bytes.count - offset, 0) }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> Int { Int(byte()) << 8 | Int(byte()) }

    /// A number in 0..<bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { bound <= 256 ? Int(byte()) % bound : uint16() % bound }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(offset + max(count, 0), bytes.count)
        defer { offset = max(offset, end) }
        return offset < end ? Array(bytes[offset..<end]) : []
    }

    mutating func rest() -> [UInt8] { take(remaining) }
}

/// Splits `bytes` into chunks whose sizes come from `plan` (1…64 bytes, or one large chunk when the plan runs out).
func fuzzChunks(_ bytes: [UInt8], plan: inout FuzzInput) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
        let size = plan.isAtEnd ? bytes.count - start : 1 + plan.below(64)
        let end = min(start + size, bytes.count)
        chunks.append(Array(bytes[start..<end]))
        start = end
    }
    return chunks
}

/// A property failed: say which, with the input's size, and abort so that libFuzzer keeps the input.
func fuzzFail(_ message: String) -> Never {
    let text = Array("FUZZ-PROPERTY violated: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fuzzFail(message()) }
}
