#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target: a phrase cache file read back (PhraseCacheEntry: FLACDecoder, then the SPEAKD_KEY check).
// Input: [mode][...]. Mode 0: the bytes are a cache file. Otherwise an entry is written as the cache writes it
// (FLACEncoder, SPEAKD_KEY tag) from samples, format and key taken from the input, then damaged by the input
// (bytes changed, cut, or inserted), and read back under the same key or another.
// Properties: never crashes; a file read back is whole 16-bit frames in a plausible format; an entry either reads
// back as exactly its key's audio (samples and format), or is reported corrupt; an undamaged entry always reads
// back; another key's entry never does.

@_cdecl("LLVMFuzzerTestOneInput")
public func cacheEntryFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    if input.byte() % 4 == 0 {
        let digest = String(repeating: "ab", count: 32)
        if let decoded = try? PhraseCacheEntry.decode(input.rest(), expectingDigest: digest) {
            checkWholeFrames(decoded)
        }
    } else {
        checkDamagedEntry(&input)
    }
    return 0
}

func checkWholeFrames(_ decoded: DecodedFLAC) {
    fuzzCheck((1...2).contains(decoded.format.channels) && decoded.format.sampleRate > 0,
              "an entry read back as \(decoded.format)")
    fuzzCheck(decoded.samples.count % decoded.format.channels == 0, "an entry read back with a partial frame")
}

let cacheRates = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000]
let hexDigits = Array("0123456789abcdef")

func checkDamagedEntry(_ input: inout FuzzInput) {
    let format = PCMFormat(sampleRate: cacheRates[input.below(cacheRates.count)], channels: 1 + input.below(2))
    let digest = String((0..<64).map { _ in hexDigits[input.below(16)] })
    let frames = 1 + input.below(1_500)
    var samples: [Int16] = []
    samples.reserveCapacity(frames * format.channels)
    // A tone, with the input's bytes mixed in so the encoder meets varied audio.
    for index in 0..<(frames * format.channels) {
        let tone = Double(6_000) * sin(Double(index) * 0.07)
        samples.append(Int16(clamping: Int(tone) + (Int(input.byte()) - 128) * 16))
    }
    let sink = MemorySink()
    do {
        var tags = Tags(text: "fuzz", voice: "v", model: "m", engine: "fuzz")
        tags.extra["SPEAKD_KEY"] = digest
        let encoder = try FLACEncoder(input: format, settings: FLACSettings(compressionLevel: 1 + input.below(8)),
                                      tags: tags, sink: sink)
        try samples.withUnsafeBufferPointer { buffer throws(EncoderError) in try encoder.encode(buffer) }
        try encoder.finish()
    } catch {
        fuzzFail("the cache's own encoder failed: \(error)")
    }
    var bytes = sink.bytes
    let damages = input.below(4)
    for _ in 0..<damages where !bytes.isEmpty {
        let position = input.uint16() % bytes.count
        switch input.below(3) {
        case 0: bytes[position] ^= max(input.byte(), 1)
        case 1: bytes.removeSubrange(position...)
        default: bytes.insert(input.byte(), at: position)
        }
    }
    let otherKey = input.below(8) == 0
    let expected = otherKey ? String(digest.reversed()) : digest
    do {
        let decoded = try PhraseCacheEntry.decode(bytes, expectingDigest: expected)
        fuzzCheck(!otherKey || expected == digest, "an entry read back under another key")
        fuzzCheck(decoded.format == format, "an entry written as \(format) read back as \(decoded.format) (\(damages) damages)")
        fuzzCheck(decoded.samples == samples, "an entry read back with other samples (\(damages) damages)")
    } catch {
        fuzzCheck(damages > 0 || otherKey, "an undamaged entry was refused: \(error)")
    }
}
