import SpeakdCore

/// WAV (RIFF/WAVE, 16-bit PCM) as it streams: the header's `fmt ` chunk gives rate and channels, other chunks are
/// skipped, and the `data` chunk is raw little-endian PCM.
///
/// Streamed WAV comes in three shapes, all handled: sizes of 0xFFFFFFFF (or 0) meaning "until the end"; exact
/// sizes; and a whole RIFF header in front of every piece (older Kokoro), which follows a sized `data` chunk.
///
/// Threading: see `AudioStreamDecoder`.
public final class WAVStreamDecoder: AudioStreamDecoder {
    public private(set) var format: PCMFormat?
    /// Header bytes not yet parsed.
    private var pending: [UInt8] = []
    private var inRIFF = false
    private var pcm: RawPCMDecoder?
    /// Bytes of the current `data` chunk still to come; nil while reading chunk headers, .max when unbounded.
    private var dataLeft: Int?
    /// A pad byte follows a chunk of odd size.
    private var skipPad = 0
    private var sawData = false

    public init() {}

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        var runs = PCMRuns()
        var input = bytes[...]
        while !input.isEmpty {
            if var left = dataLeft, let pcm {
                let take = min(left, input.count)
                for run in try pcm.push(UnsafeRawBufferPointer(rebasing: input.prefix(take))) {
                    runs.append(run.samples, format: run.format)
                }
                input = input.dropFirst(take)
                if left != .max { left -= take }
                dataLeft = left
                if left == 0 {
                    _ = try pcm.finish()
                    dataLeft = nil
                }
                continue
            }
            if skipPad > 0 {
                let skip = min(skipPad, input.count)
                skipPad -= skip
                input = input.dropFirst(skip)
                continue
            }
            pending.append(contentsOf: input)
            input = input.suffix(0)
            // What follows a `data` header is samples: loop again over it.
            guard let rest = try parseChunks() else { break }
            let copy = Array(rest)
            for run in try withBytes(copy) { raw throws(AudioDecodingError) in try push(raw) } {
                runs.append(run.samples, format: run.format)
            }
            break
        }
        return runs.take()
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        if !sawData {
            throw AudioDecodingError(pending.isEmpty && !inRIFF ? "the WAV stream is empty" : "the WAV header ended before its data")
        }
        if dataLeft != nil, let pcm { return try pcm.finish() }
        return []
    }

    /// Parses `pending` from the start; returns the bytes after a `data` chunk header (and sets up reading it), or
    /// nil when more bytes are needed (or the chunk headers ran out exactly).
    private func parseChunks() throws(AudioDecodingError) -> ArraySlice<UInt8>? {
        var offset = 0
        if !inRIFF || (pending.count >= 4 && pending.starts(with: Self.riff)) {
            guard pending.count >= 12 else {
                if !Self.riff.starts(with: pending.prefix(4)) {
                    throw AudioDecodingError("the WAV stream has bytes that are neither a chunk nor a RIFF header")
                }
                return nil
            }
            guard pending.starts(with: Self.riff), pending[8..<12].elementsEqual("WAVE".utf8) else {
                throw AudioDecodingError("a RIFF file that is not WAVE audio")
            }
            inRIFF = true
            pending.removeFirst(12)
        }
        while pending.count >= offset + 8 {
            let id = String(decoding: pending[offset..<offset + 4], as: UTF8.self)
            let size = Int(pending[offset + 4]) | Int(pending[offset + 5]) << 8 | Int(pending[offset + 6]) << 16
                | Int(pending[offset + 7]) << 24
            let body = offset + 8
            if id == "data" {
                guard let format else { throw AudioDecodingError("the WAV stream has no fmt chunk before its data") }
                if pcm == nil || pcm?.format != format { pcm = RawPCMDecoder(format: format) }
                sawData = true
                dataLeft = size == 0 || size == 0xFFFF_FFFF ? .max : size
                skipPad = size & 1 == 1 && size != 0xFFFF_FFFF ? 1 : 0
                let rest = pending[body...]
                pending = []
                return rest
            }
            guard size < 1 << 20 else { throw AudioDecodingError("the WAV header is corrupt (chunk \(id) of \(size) bytes)") }
            guard pending.count >= body + size + (size & 1) else { break }
            if id == "fmt " { format = try Self.parseFormat(pending[body..<body + size]) }
            offset = body + size + (size & 1)
        }
        pending.removeFirst(offset)
        return nil
    }

    private static let riff = Array("RIFF".utf8)

    private static func parseFormat(_ chunk: ArraySlice<UInt8>) throws(AudioDecodingError) -> PCMFormat {
        guard chunk.count >= 16 else { throw AudioDecodingError("the WAV fmt chunk is too short") }
        let field = { (at: Int, width: Int) in
            (0..<width).reduce(0) { $0 | Int(chunk[chunk.startIndex + at + $1]) << (8 * $1) }
        }
        let tag = field(0, 2), channels = field(2, 2), rate = field(4, 4), bits = field(14, 2)
        // 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (PCM subformat in practice).
        guard tag == 1 || tag == 0xFFFE, bits == 16 else {
            throw AudioDecodingError("WAV audio that is not 16-bit PCM (format \(tag), \(bits) bits)")
        }
        return try PCMFormat.checked(rate: rate, channels: channels, what: "the WAV header")
    }
}
