import CMPG123
import SpeakdCore

/// MP3 through libmpg123's feed decoder (`mpg123_open_feed` + `mpg123_decode`): bytes are fed as they arrive and
/// every frame decoded is returned at once, as s16 at the stream's own rate and channel count (an ID3v2 tag in
/// front is skipped; a LAME/Xing header's encoder delay and padding are trimmed: gapless decoding is on).
///
/// Threading: see `AudioStreamDecoder`.
public final class MP3StreamDecoder: AudioStreamDecoder {
    public private(set) var format: PCMFormat?
    private let handle: OpaquePointer
    private var output: [Int16]
    private var framesSeen = false

    public init() throws(AudioDecodingError) {
        var error: Int32 = 0
        guard let handle = mpg123_new(nil, &error) else {
            throw AudioDecodingError("libmpg123 could not start a decoder: \(String(cString: mpg123_plain_strerror(error)))")
        }
        self.handle = handle
        // One output encoding (s16) at every rate, mono or stereo: libmpg123 never resamples or mixes for us.
        let channels = Int32(MPG123_MONO.rawValue | MPG123_STEREO.rawValue)
        let flags = Int(MPG123_QUIET.rawValue | MPG123_GAPLESS.rawValue | MPG123_NO_FRANKENSTEIN.rawValue)
        guard mpg123_param2(handle, Int32(MPG123_ADD_FLAGS.rawValue), flags, 0) == MPG123_OK.rawValue,
              mpg123_format_none(handle) == MPG123_OK.rawValue,
              mpg123_format2(handle, 0, channels, Int32(MPG123_ENC_SIGNED_16.rawValue)) == MPG123_OK.rawValue,
              mpg123_open_feed(handle) == MPG123_OK.rawValue else {
            let message = String(cString: mpg123_strerror(handle))
            mpg123_delete(handle)
            throw AudioDecodingError("libmpg123 refused its settings: \(message)")
        }
        // Room for the largest frame libmpg123 may hand out at once.
        output = [Int16](repeating: 0, count: max(Int(mpg123_outblock(handle)) / 2, 4_608))
    }

    deinit { mpg123_delete(handle) }

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        var runs = PCMRuns()
        var input = bytes
        while true {
            var done = 0
            let status = output.withUnsafeMutableBytes { out in
                mpg123_decode(handle, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count,
                              out.baseAddress, out.count, &done)
            }
            input = UnsafeRawBufferPointer(start: nil, count: 0)
            if status == MPG123_NEW_FORMAT.rawValue {
                var rate = 0, channels: Int32 = 0, encoding: Int32 = 0
                mpg123_getformat(handle, &rate, &channels, &encoding)
                format = try PCMFormat.checked(rate: rate, channels: Int(channels), what: "the MP3 stream")
                framesSeen = true
            } else if status == MPG123_ERR.rawValue {
                throw AudioDecodingError("libmpg123 could not decode the MP3 stream: \(String(cString: mpg123_strerror(handle)))")
            }
            if done > 0, let format {
                runs.append(output[..<(done / 2 - (done / 2) % format.channels)], format: format)
            }
            // NEED_MORE: everything fed is decoded. OK / NEW_FORMAT: call again for the rest.
            if status == MPG123_NEED_MORE.rawValue || status == MPG123_DONE.rawValue { break }
        }
        return runs.take()
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        guard framesSeen else { throw AudioDecodingError("the MP3 stream ended before its first frame") }
        return []
    }
}
