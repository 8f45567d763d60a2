// libFuzzer target: upstream answers through UpstreamAudioDecoder (sniffing, raw PCM either byte order, WAV, MP3,
// Ogg Opus, FLAC) under every Content-Type and header combination AudioLabel reads.
// Input: [label][headers][plan length N][N bytes of split plan][body]; a label byte past the table takes the
// Content-Type from the next 40 bytes.
// Properties: never crashes; the label's rate and channels are plausible; the output never depends on how the
// body was chunked (same runs of samples in the same formats, or an error both ways); every run holds whole frames;
// samplesDecoded counts what came out.

let fuzzContentTypes: [String?] = [
    nil, "", "audio/pcm", "audio/pcm; rate=16000", "audio/pcm;samplerate=48000", "audio/raw; format=S16BE",
    "audio/L16; rate=22050; channels=2", "audio/l16; endianness=little-endian", "audio/s16be", "audio/pcm_s16le",
    "application/octet-stream", "audio/wav", "audio/x-wav; rate=8000", "audio/mpeg", "audio/mp3", "audio/ogg",
    "audio/opus", "application/ogg", "audio/flac", "audio/x-flac", "audio/aac", "application/json", "text/plain",
    "text/html; charset=utf-8", "audio/s16le; sample_rate=44100; channels=1", "audio/pcm; channels=9; rate=1",
]

let fuzzHeaderSets: [[(String, String)]] = [
    [], [("X-Sample-Rate", "16000")], [("x-ratelimit-reset-requests", "22050")], [("X-Channels", "2")],
    [("sample-rate", "abc"), ("num_channels", "3")], [("X-Audio-Sample-Rate", " 44100 "), ("Channel-Count", "2")],
    [("Content-Type-Rate", "8000")], [("x-rate-limit", "16000"), ("rate", "24000")],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func streamDecoderFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let labelIndex = Int(input.byte())
    let contentType = labelIndex < fuzzContentTypes.count
        ? fuzzContentTypes[labelIndex] : String(decoding: input.take(40), as: UTF8.self)
    let headers = fuzzHeaderSets[Int(input.byte()) % fuzzHeaderSets.count]
    var plan = FuzzInput(input.take(Int(input.byte())))
    let body = input.rest()

    let label = AudioLabel(contentType: contentType, headers: headers)
    if let rate = label.sampleRate { fuzzCheck(PCMFormat.plausibleRates.contains(rate), "label rate \(rate)") }
    if let channels = label.channels { fuzzCheck((1...8).contains(channels), "label channels \(channels)") }

    let whole = decodeAll([body], label: label)
    let chunked = decodeAll(fuzzChunks(body, plan: &plan), label: label)
    switch (whole, chunked) {
    case (.success(let a), .success(let b)):
        fuzzCheck(a == b, "chunking changed the output under \(String(describing: contentType)): "
                  + "\(a.map { ($0.format, $0.samples.count) }) vs \(b.map { ($0.format, $0.samples.count) })")
    case (.failure, .failure): break
    case (.success, .failure(let error)):
        fuzzFail("chunked input failed (\(error)) where the whole body decoded, under \(String(describing: contentType))")
    case (.failure(let error), .success):
        fuzzFail("the whole body failed (\(error)) where chunked input decoded, under \(String(describing: contentType))")
    }
    return 0
}

/// Runs of one format merged (chunking may cut a run in two).
func decodeAll(_ chunks: [[UInt8]], label: AudioLabel) -> Result<[DecodedPCM], AudioDecodingError> {
    let decoder = UpstreamAudioDecoder(label: label)
    var runs: [DecodedPCM] = []
    func add(_ more: [DecodedPCM]) {
        for run in more {
            fuzzCheck(run.samples.count % max(run.format.channels, 1) == 0,
                      "a run of \(run.samples.count) samples is not whole \(run.format.channels)-channel frames")
            fuzzCheck(PCMFormat.plausibleRates.contains(run.format.sampleRate) && (1...8).contains(run.format.channels),
                      "implausible run format \(run.format)")
            if run.samples.isEmpty { continue }
            if let last = runs.indices.last, runs[last].format == run.format {
                runs[last].samples += run.samples
            } else {
                runs.append(run)
            }
        }
    }
    do {
        for chunk in chunks { add(try decoder.push(chunk)) }
        add(try decoder.finish())
    } catch {
        return .failure(error)
    }
    fuzzCheck(decoder.samplesDecoded == runs.reduce(0) { $0 + $1.samples.count },
              "samplesDecoded \(decoder.samplesDecoded) but \(runs.reduce(0) { $0 + $1.samples.count }) samples came out")
    return .success(runs)
}
