import CLame
import SpeakdCore
import Synchronization

/// MP3 through libmp3lame: VBR quality or CBR bit rate, an ID3v2.4 tag in front, and the Xing/LAME info frame that
/// carries the frame count, encoder delay and padding, so players report the exact duration and decoders trim the
/// codec's padding.
///
/// Rates: the MPEG-1/2/2.5 rates (8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz) are kept as they are, so 24 kHz,
/// 22.05 kHz and 16 kHz mono stay at their own rate (MPEG-2). Any other rate is resampled by lame to the rate it
/// picks; the speed never changes. VBR quality means what it means to the `lame` tool (`-V 4` here and there give
/// the same stream), see `configuredLame`.
///
/// The info frame is known only at the end and goes at the start of the audio: on a seekable sink it overwrites
/// lame's placeholder in `finish`; on a sink that cannot seek the encoded stream is held in memory (≈ 0.5 MB per
/// minute at -V 4) and written out by `finish`.
///
/// Threading: see `AudioEncoder` (one thread or task at a time).
public final class MP3Encoder: AudioEncoder {
    public let input: PCMFormat
    public var format: ArchiveFormat { .mp3 }
    /// The rate of the MP3 stream: the input's, or lame's choice when the input's is not an MPEG rate.
    public let outputRate: Int
    private let sink: any EncodedSink
    private let target: any EncodedSink
    private let lame: OpaquePointer
    /// Where the first MP3 frame (the Xing/LAME placeholder) starts: right after the ID3v2 tag.
    private let audioStart: Int
    /// lame's output buffer, reused; sized for the largest chunk we hand it (its documented worst case).
    private var encoded = [UInt8](repeating: 0, count: MP3Encoder.outputCapacity(frames: MP3Encoder.chunkFrames))
    private var state = State.open

    private enum State { case open, finished, failed }
    private static let chunkFrames = 8192
    static let mpegRates: Set<Int> = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]
    static let mpeg1Bitrates = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    static let mpeg2Bitrates = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]

    public init(input: PCMFormat, settings: MP3Settings = MP3Settings(), tags: Tags = Tags(),
                sink: any EncodedSink) throws(EncoderError) {
        try validate(input, for: .mp3)
        let mpegRate = Self.mpegRates.contains(input.sampleRate) ? input.sampleRate : 0
        let lame = try Self.configuredLame(input: input, mpegRate: mpegRate, settings: settings)
        self.input = input
        self.outputRate = Int(lame_get_out_samplerate(lame))
        self.lame = lame
        self.sink = sink
        self.target = sink.isSeekable ? sink : MemorySink(name: sink.name)
        let tag = ID3v2Tag.bytes(for: tags)
        self.audioStart = target.offset + tag.count
        try target.write(tag)   // after every property is set, so a failure here still runs deinit (lame_close)
    }

    deinit {
        lame_close(lame)
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(EncoderError) {
        guard state == .open else { throw EncoderError(.misuse, "MP3 encoder used after finish or failure") }
        try checkWholeFrames(samples.count, input)
        let channels = input.channels
        var done = 0
        while done < samples.count {
            let frames = min(Self.chunkFrames, (samples.count - done) / channels)
            let chunk = samples.baseAddress! + done
            let capacity = Int32(encoded.count)
            let produced = encoded.withUnsafeMutableBufferPointer { out in
                channels == 1
                    ? lame_encode_buffer(lame, chunk, chunk, Int32(frames), out.baseAddress, capacity)
                    // The interleaved entry point is declared non-const but only reads the samples.
                    : lame_encode_buffer_interleaved(lame, UnsafeMutablePointer(mutating: chunk), Int32(frames),
                                                     out.baseAddress, capacity)
            }
            try emit(produced, during: "encoding")
            done += frames * channels
        }
    }

    public func finish() throws(EncoderError) {
        guard state == .open else { throw EncoderError(.misuse, "MP3 encoder finished twice or after failure") }
        let produced = encoded.withUnsafeMutableBufferPointer { lame_encode_flush(lame, $0.baseAddress, Int32($0.count)) }
        try emit(produced, during: "flushing")
        state = .failed  // until everything below has been written
        // The info frame is one MPEG frame: at most 2,880 bytes (MPEG-2.5 8 kHz at 160 kbit/s … 1,441 in practice).
        var frame = [UInt8](repeating: 0, count: 4096)
        let size = lame_get_lametag_frame(lame, &frame, frame.count)
        if size > 0 && size <= frame.count {
            try target.patch(Array(frame[0..<size]), at: audioStart)
        }
        if let held = target as? MemorySink, held !== sink {
            try held.drain(into: sink)
        }
        try sink.flush()
        state = .finished
    }

    private func emit(_ produced: Int32, during what: String) throws(EncoderError) {
        guard produced >= 0 else {
            state = .failed
            throw EncoderError(.library, "libmp3lame failed while \(what) (code \(produced))")
        }
        do throws(EncoderError) {
            try encoded.withUnsafeBufferPointer { (bytes) throws(EncoderError) in
                try target.write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0..<Int(produced)]))
            }
        } catch {
            state = .failed
            throw error
        }
    }

    /// lame's own bound for its output buffer: 1.25 × samples + 7200 bytes.
    private static func outputCapacity(frames: Int) -> Int { frames * 5 / 4 + 7200 }

    /// lame 3.100 fills process-wide lookup tables on first use without synchronization (lame_init_params →
    /// init_log_table and friends); encoders opened on two threads at once must not race there.
    private static let setupLock = Mutex(())

    /// `mpegRate`: the input rate when MPEG has it, else 0.
    private static func configuredLame(input: PCMFormat, mpegRate: Int,
                                       settings: MP3Settings) throws(EncoderError) -> OpaquePointer {
        // Refuse out-of-range settings ourselves: lame_init_params reports only "-1", or silently picks another value.
        let bitrates = mpegRate >= 32000 ? mpeg1Bitrates : mpeg2Bitrates
        switch settings.mode {
        case .vbr(let quality):
            guard MP3Settings.vbrQualities.contains(quality) else {
                throw EncoderError(.invalidSettings,
                                   "libmp3lame refused VBR quality \(quality): it goes from 0 (best) to 9 (smallest)")
            }
        case .cbr(let kbps):
            guard mpegRate == 0 || bitrates.contains(kbps) else {
                throw EncoderError(.invalidSettings, "libmp3lame refused CBR \(kbps) kbit/s at \(input.sampleRate) Hz: "
                                   + "the rates there are \(bitrates.map(String.init).joined(separator: ", "))")
            }
        }
        // First as the lame tool does it: output rate left to lame, which then maps -V onto its scale for that rate
        // (-V 4 at 24 kHz encodes as 2.6, at 44.1 kHz as 4), so a quality means what it means to lame users. Where
        // lame would resample an MPEG rate (-V 9 at 24 kHz → 22.05 kHz, -V 7+ at 32–48 kHz), pin the input rate
        // instead, with the quality as given.
        let lame = try makeLame(input: input, outputRate: 0, settings: settings)
        let chosen = Int(lame_get_out_samplerate(lame))
        guard chosen != input.sampleRate, mpegRate != 0 else { return lame }
        lame_close(lame)
        return try makeLame(input: input, outputRate: mpegRate, settings: settings)
    }

    private static func makeLame(input: PCMFormat, outputRate: Int,
                                 settings: MP3Settings) throws(EncoderError) -> OpaquePointer {
        try setupLock.withLock { _ throws(EncoderError) -> OpaquePointer in
            guard let lame = lame_init() else {
                throw EncoderError(.library, "libmp3lame could not allocate an encoder")
            }
            lame_set_in_samplerate(lame, Int32(input.sampleRate))
            lame_set_out_samplerate(lame, Int32(outputRate))   // 0: lame picks
            lame_set_num_channels(lame, Int32(input.channels))
            lame_set_mode(lame, input.channels == 1 ? MONO : JOINT_STEREO)
            switch settings.mode {
            case .vbr(let quality):
                lame_set_VBR(lame, vbr_default)
                lame_set_VBR_quality(lame, Float(quality))
            case .cbr(let kbps):
                lame_set_VBR(lame, vbr_off)
                lame_set_brate(lame, Int32(kbps))
            }
            lame_set_bWriteVbrTag(lame, 1)          // the Xing/LAME frame ("Info" in CBR): exact duration, gapless
            lame_set_write_id3tag_automatic(lame, 0) // our ID3v2.4 tag instead of lame's; no ID3v1 at the end
            let status = lame_init_params(lame)
            guard status >= 0 else {
                lame_close(lame)
                throw EncoderError(.invalidSettings,
                                   "libmp3lame refused \(settings.mode) for \(input) (lame_init_params: \(status))")
            }
            return lame
        }
    }
}
