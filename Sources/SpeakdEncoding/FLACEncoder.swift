import CFLAC
import SpeakdCore

/// FLAC through libFLAC's stream encoder: lossless, 16-bit at the input's own rate and channel count, compression
/// level settable, tags in a Vorbis comment block.
///
/// STREAMINFO (total samples, MD5 of the audio, frame sizes) is known only at the end; libFLAC rewrites it through
/// the seek callback. When the sink cannot seek, the encoded stream is held in memory (≈ 2 MB per minute of 24 kHz
/// speech) and written out by `finish`, so a pipe or socket still receives a file with exact STREAMINFO.
///
/// Threading: see `AudioEncoder` (one thread or task at a time). libFLAC keeps no global state.
public final class FLACEncoder: AudioEncoder {
    public let input: PCMFormat
    public var format: ArchiveFormat { .flac }
    private let sink: any EncodedSink
    /// `sink` itself when it can seek, else memory that `finish` hands to `sink`.
    private let target: any EncodedSink
    private let encoder: UnsafeMutablePointer<FLAC__StreamEncoder>
    private var metadata: [UnsafeMutablePointer<FLAC__StreamMetadata>?] = []
    /// The first error a callback met; libFLAC sees only "fatal" and stops.
    private var callbackError: EncoderError?
    /// libFLAC takes 32-bit samples; reused between calls so encoding does not allocate per chunk.
    private var widened = [FLAC__int32](repeating: 0, count: 8192)
    private var state = State.open
    /// Set by deinit: libFLAC finishes an unfinished stream when deleted, and an abandoned archive must not be
    /// written to any more.
    private var abandoned = false

    private enum State { case open, finished, failed }

    public init(input: PCMFormat, settings: FLACSettings = FLACSettings(), tags: Tags = Tags(),
                sink: any EncodedSink) throws(EncoderError) {
        try validate(input, for: .flac)
        guard FLACSettings.compressionLevels.contains(settings.compressionLevel) else {
            throw EncoderError(.invalidSettings,
                               "libFLAC compression level must be 0…8, not \(settings.compressionLevel)")
        }
        guard let encoder = FLAC__stream_encoder_new() else {
            throw EncoderError(.library, "libFLAC could not allocate a stream encoder")
        }
        self.input = input
        self.sink = sink
        self.target = sink.isSeekable ? sink : MemorySink(name: sink.name)
        self.encoder = encoder

        let configured = FLAC__stream_encoder_set_channels(encoder, UInt32(input.channels)) != 0
            && FLAC__stream_encoder_set_bits_per_sample(encoder, 16) != 0
            && FLAC__stream_encoder_set_sample_rate(encoder, UInt32(input.sampleRate)) != 0
            && FLAC__stream_encoder_set_compression_level(encoder, UInt32(settings.compressionLevel)) != 0
        guard configured else {
            throw EncoderError(.library, "libFLAC refused \(input): \(stateText)")
        }
        try attachVorbisComment(tags)

        let context = Unmanaged.passUnretained(self).toOpaque()
        let status = FLAC__stream_encoder_init_stream(encoder, { _, buffer, bytes, _, _, context in
            let me = Unmanaged<FLACEncoder>.fromOpaque(context!).takeUnretainedValue()
            if me.abandoned { return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR }
            do throws(EncoderError) {
                try me.target.write(UnsafeRawBufferPointer(start: buffer, count: bytes))
                return FLAC__STREAM_ENCODER_WRITE_STATUS_OK
            } catch {
                me.callbackError = me.callbackError ?? error
                return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR
            }
        }, { _, position, context in
            let me = Unmanaged<FLACEncoder>.fromOpaque(context!).takeUnretainedValue()
            if me.abandoned { return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR }
            do throws(EncoderError) {
                try me.target.seek(to: Int(position))
                return FLAC__STREAM_ENCODER_SEEK_STATUS_OK
            } catch {
                me.callbackError = me.callbackError ?? error
                return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR
            }
        }, { _, position, context in
            let me = Unmanaged<FLACEncoder>.fromOpaque(context!).takeUnretainedValue()
            position!.pointee = FLAC__uint64(me.target.offset)
            return FLAC__STREAM_ENCODER_TELL_STATUS_OK
        }, nil, context)
        guard status == FLAC__STREAM_ENCODER_INIT_STATUS_OK else {
            throw callbackError ?? EncoderError(.library, "libFLAC could not start the stream: \(stateText)")
        }
    }

    deinit {
        // Deleting an unfinished encoder makes libFLAC finish it, calling back into self (still intact here); the
        // callbacks see `abandoned` and write nothing.
        abandoned = true
        FLAC__stream_encoder_delete(encoder)
        for block in metadata { FLAC__metadata_object_delete(block) }
    }

    public func encode(_ samples: UnsafeBufferPointer<Int16>) throws(EncoderError) {
        guard state == .open else { throw EncoderError(.misuse, "FLAC encoder used after finish or failure") }
        try checkWholeFrames(samples.count, input)
        var done = 0
        while done < samples.count {
            let count = min(widened.count, samples.count - done)
            let accepted = widened.withUnsafeMutableBufferPointer { wide in
                for index in 0..<count { wide[index] = FLAC__int32(samples[done + index]) }
                return FLAC__stream_encoder_process_interleaved(encoder, wide.baseAddress,
                                                                UInt32(count / input.channels))
            }
            guard accepted != 0 else { throw fail("libFLAC failed while encoding") }
            done += count
        }
    }

    public func finish() throws(EncoderError) {
        guard state == .open else { throw EncoderError(.misuse, "FLAC encoder finished twice or after failure") }
        guard FLAC__stream_encoder_finish(encoder) != 0, callbackError == nil else {
            throw fail("libFLAC failed to finish the stream")
        }
        state = .finished
        if let held = target as? MemorySink, held !== sink {
            try held.drain(into: sink)
        }
        try sink.flush()
    }

    private func fail(_ what: String) -> EncoderError {
        state = .failed
        return callbackError ?? EncoderError(.library, "\(what): \(stateText)")
    }

    private var stateText: String {
        String(cString: FLAC__stream_encoder_get_resolved_state_string(encoder))
    }

    private func attachVorbisComment(_ tags: Tags) throws(EncoderError) {
        let fields = tags.fields
        guard !fields.isEmpty else { return }
        guard let block = FLAC__metadata_object_new(FLAC__METADATA_TYPE_VORBIS_COMMENT) else {
            throw EncoderError(.library, "libFLAC could not allocate a Vorbis comment block")
        }
        metadata.append(block)
        for (name, value) in fields {
            var entry = FLAC__StreamMetadata_VorbisComment_Entry()
            guard FLAC__metadata_object_vorbiscomment_entry_from_name_value_pair(&entry, name, value) != 0,
                  // copy: false hands the entry's buffer to the block, which frees it.
                  FLAC__metadata_object_vorbiscomment_append_comment(block, entry, 0) != 0 else {
                throw EncoderError(.library, "libFLAC refused the tag \(name)")
            }
        }
        // libFLAC copies the array of pointers but not the blocks: they live in `metadata` until deinit.
        let accepted = metadata.withUnsafeMutableBufferPointer {
            FLAC__stream_encoder_set_metadata(encoder, $0.baseAddress, UInt32($0.count))
        }
        guard accepted != 0 else { throw EncoderError(.library, "libFLAC refused the tags: \(stateText)") }
    }
}
