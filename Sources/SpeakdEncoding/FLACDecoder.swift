import CFLAC
import SpeakdCore

/// A whole FLAC stream decoded in memory, checked end to end.
///
/// Threading: a value type; Sendable.
public struct DecodedFLAC: Sendable, Equatable {
    public var format: PCMFormat
    /// Interleaved 16-bit samples.
    public var samples: [Int16]
    /// Vorbis comments, field names upper-cased.
    public var tags: [String: String]
}

/// Decodes FLAC from memory with libFLAC's stream decoder, and refuses anything it cannot vouch for: a frame whose
/// CRC fails, audio whose MD5 differs from the one STREAMINFO recorded, fewer samples than STREAMINFO promised
/// (a truncated file), or a format other than 16-bit mono or stereo. What it returns is exactly what was encoded.
///
/// Threading: `decode` is reentrant; each call owns its libFLAC decoder.
public enum FLACDecoder {
    public static func decode(_ bytes: [UInt8]) throws(EncoderError) -> DecodedFLAC {
        guard let decoder = FLAC__stream_decoder_new() else {
            throw EncoderError(.library, "libFLAC could not allocate a stream decoder")
        }
        defer { FLAC__stream_decoder_delete(decoder) }
        FLAC__stream_decoder_set_md5_checking(decoder, 1)
        FLAC__stream_decoder_set_metadata_respond(decoder, FLAC__METADATA_TYPE_VORBIS_COMMENT)

        let state = DecodingState(bytes)
        let context = Unmanaged.passUnretained(state).toOpaque()
        let status = FLAC__stream_decoder_init_stream(decoder, { _, buffer, bytes, context in
            let me = Unmanaged<DecodingState>.fromOpaque(context!).takeUnretainedValue()
            let count = min(bytes!.pointee, me.input.count - me.offset)
            guard count > 0 else {
                bytes!.pointee = 0
                return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM
            }
            me.input.withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer!).copyMemory(from: source.baseAddress! + me.offset, byteCount: count)
            }
            me.offset += count
            bytes!.pointee = count
            return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE
        }, nil, nil, nil, { _, context in
            let me = Unmanaged<DecodingState>.fromOpaque(context!).takeUnretainedValue()
            return me.offset >= me.input.count ? 1 : 0
        }, { _, frame, buffers, context in
            let me = Unmanaged<DecodingState>.fromOpaque(context!).takeUnretainedValue()
            let header = frame!.pointee.header
            let channels = Int(header.channels)
            guard header.bits_per_sample == 16, channels == me.channels || me.channels == 0, (1...2).contains(channels) else {
                me.failure = "an unsupported FLAC frame (\(header.bits_per_sample)-bit, \(channels) channels)"
                return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
            }
            // STREAMINFO has no checksum and the MD5 covers only the samples: a damaged rate there would play the
            // right samples at the wrong speed. Each frame header (CRC-8) states the rate too.
            guard me.sampleRate == 0 || Int(header.sample_rate) == me.sampleRate else {
                me.failure = "a FLAC frame at \(header.sample_rate) Hz in a stream whose STREAMINFO says \(me.sampleRate) Hz"
                return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
            }
            let frames = Int(header.blocksize)
            me.samples.reserveCapacity(me.samples.count + frames * channels)
            for index in 0..<frames {
                for channel in 0..<channels {
                    me.samples.append(Int16(truncatingIfNeeded: buffers![channel]![index]))
                }
            }
            return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE
        }, { _, metadata, context in
            let me = Unmanaged<DecodingState>.fromOpaque(context!).takeUnretainedValue()
            let block = metadata!.pointee
            if block.type == FLAC__METADATA_TYPE_STREAMINFO {
                let info = block.data.stream_info
                me.sampleRate = Int(info.sample_rate)
                me.channels = Int(info.channels)
                me.bitsPerSample = Int(info.bits_per_sample)
                me.totalFrames = Int(info.total_samples)
            } else if block.type == FLAC__METADATA_TYPE_VORBIS_COMMENT {
                let comments = block.data.vorbis_comment
                for index in 0..<Int(comments.num_comments) {
                    let entry = comments.comments[index]
                    guard let bytes = entry.entry else { continue }
                    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: Int(entry.length)), as: UTF8.self)
                    guard let equals = text.firstIndex(of: "=") else { continue }
                    me.tags[text[..<equals].uppercased()] = String(text[text.index(after: equals)...])
                }
            }
        }, { _, status, context in
            let me = Unmanaged<DecodingState>.fromOpaque(context!).takeUnretainedValue()
            let what = switch status {
            case FLAC__STREAM_DECODER_ERROR_STATUS_LOST_SYNC: "lost sync"
            case FLAC__STREAM_DECODER_ERROR_STATUS_BAD_HEADER: "bad frame header"
            case FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH: "frame CRC mismatch"
            default: "unparseable stream"
            }
            me.failure = me.failure ?? "a damaged FLAC stream (\(what))"
        }, context)
        guard status == FLAC__STREAM_DECODER_INIT_STATUS_OK else {
            throw EncoderError(.library, "libFLAC could not start decoding")
        }
        let decoded = FLAC__stream_decoder_process_until_end_of_stream(decoder) != 0
        // finish() compares the MD5 of what was decoded with STREAMINFO's; false means they differ.
        let md5Matches = FLAC__stream_decoder_finish(decoder) != 0
        if let failure = state.failure { throw EncoderError(.corrupt, failure) }
        guard decoded else { throw EncoderError(.corrupt, "not a FLAC stream, or one that ends early") }
        guard state.sampleRate > 0, state.bitsPerSample == 16 else {
            throw EncoderError(.corrupt, "a FLAC stream without 16-bit STREAMINFO")
        }
        guard state.totalFrames > 0, state.samples.count == state.totalFrames * state.channels else {
            throw EncoderError(.corrupt, "a truncated FLAC stream: \(state.samples.count / max(state.channels, 1)) of \(state.totalFrames) frames")
        }
        guard md5Matches else { throw EncoderError(.corrupt, "FLAC audio does not match its MD5 signature") }
        return DecodedFLAC(format: PCMFormat(sampleRate: state.sampleRate, channels: state.channels),
                           samples: state.samples, tags: state.tags)
    }

    /// What the callbacks fill in; lives for one `decode` call.
    private final class DecodingState {
        let input: [UInt8]
        var offset = 0
        var samples: [Int16] = []
        var tags: [String: String] = [:]
        var sampleRate = 0
        var channels = 0
        var bitsPerSample = 0
        var totalFrames = 0
        var failure: String?

        init(_ input: [UInt8]) { self.input = input }
    }
}
