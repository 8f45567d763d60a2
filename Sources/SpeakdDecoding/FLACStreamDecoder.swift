import CFLAC
import SpeakdCore

/// FLAC through libFLAC's stream decoder, frame by frame as bytes arrive.
///
/// libFLAC pulls its input through a read callback, which here serves a buffer filled by `push`. The callback must
/// never run dry in the middle of a frame (libFLAC has no "come back later"), so a frame is decoded only once the
/// bytes not yet decoded are at least one frame's worst-case size (STREAMINFO's maximum frame size, else the
/// verbatim size of its largest block): one frame of latency, never a stall. `finish` decodes the rest.
///
/// Threading: see `AudioStreamDecoder`.
public final class FLACStreamDecoder: AudioStreamDecoder {
    public private(set) var format: PCMFormat?
    private var decoder: UnsafeMutablePointer<FLAC__StreamDecoder>?
    /// Received, not yet handed to libFLAC.
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var received = 0
    private var handedOver = 0
    private var atEnd = false
    /// Bytes from the start up to the first frame, once the metadata blocks have all arrived.
    private var metadataLength: Int?
    private var frameBound = 0
    private var runs = PCMRuns()
    private var failure: String?

    public init() throws(AudioDecodingError) {
        guard let decoder = FLAC__stream_decoder_new() else { throw AudioDecodingError("libFLAC could not allocate a decoder") }
        self.decoder = decoder
        let context = Unmanaged.passUnretained(self).toOpaque()
        let status = FLAC__stream_decoder_init_stream(decoder, { _, buffer, bytes, context in
            Unmanaged<FLACStreamDecoder>.fromOpaque(context!).takeUnretainedValue().read(into: buffer!, count: bytes!)
        }, nil, { _, position, context in
            position!.pointee = UInt64(Unmanaged<FLACStreamDecoder>.fromOpaque(context!).takeUnretainedValue().handedOver)
            return FLAC__STREAM_DECODER_TELL_STATUS_OK
        }, nil, nil, { _, frame, buffers, context in
            Unmanaged<FLACStreamDecoder>.fromOpaque(context!).takeUnretainedValue().write(frame!.pointee.header, buffers!)
        }, nil, { _, status, context in
            let me = Unmanaged<FLACStreamDecoder>.fromOpaque(context!).takeUnretainedValue()
            me.failure = me.failure ?? (status == FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH ? "a frame's CRC does not match" : "lost sync")
        }, context)
        guard status == FLAC__STREAM_DECODER_INIT_STATUS_OK else {
            FLAC__stream_decoder_delete(decoder)
            self.decoder = nil
            throw AudioDecodingError("libFLAC could not start decoding")
        }
    }

    deinit {
        if let decoder { FLAC__stream_decoder_delete(decoder) }
    }

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        input.append(contentsOf: bytes)
        received += bytes.count
        guard let decoder else { return [] }
        if metadataLength == nil {
            guard try scanMetadata() else { return [] }
            guard FLAC__stream_decoder_process_until_end_of_metadata(decoder) != 0 else { throw failed("its metadata") }
        }
        var position: UInt64 = 0
        while FLAC__stream_decoder_get_decode_position(decoder, &position) != 0, received - Int(position) >= frameBound {
            guard FLAC__stream_decoder_process_single(decoder) != 0 else { throw failed("a frame") }
            var after: UInt64 = 0
            if FLAC__stream_decoder_get_decode_position(decoder, &after) == 0 || after == position { break }
        }
        if let failure { throw AudioDecodingError("damaged FLAC: \(failure)") }
        return runs.take()
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        guard let decoder else { return [] }
        atEnd = true
        var metadataComplete = metadataLength != nil
        if !metadataComplete { metadataComplete = try scanMetadata() }
        guard metadataComplete else {
            throw AudioDecodingError(received == 0 ? "the FLAC stream is empty" : "the FLAC stream ended inside its header")
        }
        guard FLAC__stream_decoder_process_until_end_of_stream(decoder) != 0 else { throw failed("its last frames") }
        if let failure { throw AudioDecodingError("damaged FLAC: \(failure)") }
        return runs.take()
    }

    private func failed(_ what: String) -> AudioDecodingError {
        AudioDecodingError("libFLAC could not decode \(what)" + (failure.map { ": \($0)" } ?? ""))
    }

    /// Walks the metadata block headers in what has arrived; true once all of them have, with STREAMINFO read.
    private func scanMetadata() throws(AudioDecodingError) -> Bool {
        guard input.count >= 4 else { return false }
        guard input.starts(with: Array("fLaC".utf8)) else { throw AudioDecodingError("a FLAC stream without its fLaC marker") }
        var offset = 4
        while input.count >= offset + 4 {
            let isLast = input[offset] & 0x80 != 0, type = input[offset] & 0x7F
            let length = Int(input[offset + 1]) << 16 | Int(input[offset + 2]) << 8 | Int(input[offset + 3])
            guard input.count >= offset + 4 + length else { return false }
            if type == 0 {
                guard length >= 34 else { throw AudioDecodingError("a FLAC STREAMINFO block that is too short") }
                let info = input[(offset + 4)...]
                let at = info.startIndex
                let maxBlock = Int(info[at + 2]) << 8 | Int(info[at + 3])
                let maxFrame = Int(info[at + 7]) << 16 | Int(info[at + 8]) << 8 | Int(info[at + 9])
                let rate = Int(info[at + 10]) << 12 | Int(info[at + 11]) << 4 | Int(info[at + 12]) >> 4
                let channels = Int(info[at + 12] >> 1 & 0x07) + 1
                let bits = (Int(info[at + 12] & 1) << 4 | Int(info[at + 13] >> 4)) + 1
                format = try PCMFormat.checked(rate: rate, channels: channels, what: "the FLAC STREAMINFO")
                // Verbatim subframes are the encoder's worst case; a side channel has one bit more per sample.
                let verbatim = (max(maxBlock, 4_608) * (channels * bits + 1) + 7) / 8 + 64
                frameBound = maxFrame > 0 ? maxFrame + 16 : verbatim
            }
            offset += 4 + length
            if isLast {
                guard format != nil else { throw AudioDecodingError("a FLAC stream without STREAMINFO") }
                metadataLength = offset
                return true
            }
        }
        return false
    }

    private func read(into buffer: UnsafeMutablePointer<FLAC__byte>, count: UnsafeMutablePointer<Int>) -> FLAC__StreamDecoderReadStatus {
        let available = input.count - inputOffset
        guard available > 0 else {
            count.pointee = 0
            // Only at the end: before it, frames are decoded only with a whole one buffered (see the type's notes).
            return atEnd ? FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM : FLAC__STREAM_DECODER_READ_STATUS_ABORT
        }
        let n = min(available, count.pointee)
        input.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress! + inputOffset, byteCount: n) }
        inputOffset += n
        handedOver += n
        count.pointee = n
        // Keep the buffer small: drop what libFLAC has taken once it is a good part of it.
        if inputOffset > 65_536, inputOffset * 2 > input.count {
            input.removeFirst(inputOffset)
            inputOffset = 0
        }
        return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE
    }

    private func write(_ header: FLAC__FrameHeader,
                       _ buffers: UnsafePointer<UnsafePointer<FLAC__int32>?>) -> FLAC__StreamDecoderWriteStatus {
        let channels = Int(header.channels), frames = Int(header.blocksize), bits = Int(header.bits_per_sample)
        guard let streamFormat = format, channels == streamFormat.channels, (4...32).contains(bits) else {
            failure = "a frame with \(channels) channels of \(bits) bits, unlike its STREAMINFO"
            return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
        }
        var samples = [Int16](repeating: 0, count: frames * channels)
        for channel in 0..<channels {
            let source = buffers[channel]!
            for index in 0..<frames {
                let value = source[index]
                samples[index * channels + channel] = Int16(truncatingIfNeeded: bits >= 16 ? value >> (bits - 16) : value << (16 - bits))
            }
        }
        runs.append(samples, format: PCMFormat(sampleRate: Int(header.sample_rate), channels: channels))
        return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE
    }
}
