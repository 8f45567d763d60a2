import COpus
import CSpeakdEncoderShim
import SpeakdCore

/// Ogg Opus (RFC 7845) through libopusenc: bit rate and complexity settable, tags as Vorbis comments in OpusTags.
///
/// Any input rate is accepted as is: libopusenc feeds libopus at 48 kHz (resampling 24 kHz, 22.05 kHz, 16 kHz
/// input itself) and records the input rate in the OpusHead, so decoders that honour it (opusdec) give back the
/// original rate. It also writes the pre-skip (encoder lookahead plus resampler delay) and the final page's granule
/// position from the exact number of input samples, so players report the exact duration and trim the padding.
/// Ogg needs no seeking: the stream goes straight to any sink, pipes included.
///
/// Threading: see `AudioEncoder` (one thread or task at a time). libopusenc keeps no global state.
public final class OggOpusEncoder: AudioEncoder {
    public let input: PCMFormat
    public var format: ArchiveFormat { .opus }
    private let sink: any EncodedSink
    private var encoder: OpaquePointer?
    /// The first error the write callback met; libopusenc only sees "failed".
    private var callbackError: EncoderError?
    /// Set by deinit so an abandoned encoder writes nothing more while being destroyed.
    private var abandoned = false
    private var state = State.open

    private enum State { case open, finished, failed }

    public init(input: PCMFormat, settings: OpusSettings = OpusSettings(), tags: Tags = Tags(),
                sink: any EncodedSink) throws(EncoderError) {
        try validate(input, for: .opus)
        guard OpusSettings.bitrates.contains(settings.bitrate) else {
            throw EncoderError(.invalidSettings,
                               "libopus refused bit rate \(settings.bitrate) bit/s: it takes 500 … 512000")
        }
        guard OpusSettings.complexities.contains(settings.complexity) else {
            throw EncoderError(.invalidSettings, "libopus refused complexity \(settings.complexity): it takes 0 … 10")
        }
        self.input = input
        self.sink = sink

        guard let comments = ope_comments_create() else {
            throw EncoderError(.library, "libopusenc could not allocate the comment header")
        }
        defer { ope_comments_destroy(comments) }   // the encoder keeps its own copy
        for (name, value) in tags.fields {
            let status = ope_comments_add(comments, name, value)
            guard status == OPE_OK else { throw Self.error("refused the tag \(name)", status) }
        }

        var callbacks = OpusEncCallbacks(write: { context, bytes, length in
            let me = Unmanaged<OggOpusEncoder>.fromOpaque(context!).takeUnretainedValue()
            if me.abandoned || me.callbackError != nil { return 1 }
            do throws(EncoderError) {
                try me.sink.write(UnsafeRawBufferPointer(start: bytes, count: Int(length)))
                return 0
            } catch {
                me.callbackError = error
                return 1
            }
        }, close: { _ in 0 })   // the sink belongs to the caller
        var status: Int32 = OPE_OK
        encoder = ope_encoder_create_callbacks(&callbacks, Unmanaged.passUnretained(self).toOpaque(), comments,
                                               Int32(input.sampleRate), Int32(input.channels), 0, &status)
        guard let encoder, status == OPE_OK else { throw Self.error("could not start a stream for \(input)", status) }

        let bitrate = speakd_ope_set_bitrate(encoder, Int32(settings.bitrate))
        guard bitrate == OPE_OK else { throw Self.error("refused bit rate \(settings.bitrate) bit/s", bitrate) }
        let complexity = speakd_ope_set_complexity(encoder, Int32(settings.complexity))
        guard complexity == OPE_OK else { throw Self.error("refused complexity \(settings.complexity)", complexity) }
    }

    deinit {
        abandoned = true
        if let encoder { ope_encoder_destroy(encoder) }
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(EncoderError) {
        guard state == .open, let encoder else {
            throw EncoderError(.misuse, "Opus encoder used after finish or failure")
        }
        try checkWholeFrames(samples.count, input)
        guard !samples.isEmpty else { return }
        let status = ope_encoder_write(encoder, samples.baseAddress, Int32(samples.count / input.channels))
        try check(status, "failed while encoding")
    }

    public func finish() throws(EncoderError) {
        guard state == .open, let encoder else {
            throw EncoderError(.misuse, "Opus encoder finished twice or after failure")
        }
        try check(ope_encoder_drain(encoder), "failed to end the stream")
        state = .failed  // until the flush below succeeds
        try sink.flush()
        state = .finished
    }

    private func check(_ status: Int32, _ what: String) throws(EncoderError) {
        if let callbackError {
            state = .failed
            throw callbackError
        }
        guard status == OPE_OK else {
            state = .failed
            throw Self.error(what, status)
        }
    }

    private static func error(_ what: String, _ status: Int32) -> EncoderError {
        EncoderError(.library, "libopusenc \(what): \(String(cString: ope_strerror(status)))")
    }
}
