import COgg
import COpus
import SpeakdCore
#if canImport(Glibc)
import Glibc
#endif

/// Ogg Opus (RFC 7845) through libogg's framing and libopus's decoder, page by page as bytes arrive.
///
/// libogg + libopus rather than opusfile: opusfile pulls its input through a blocking read callback, which cannot
/// be fed from a streamed HTTP body without a thread; libogg's sync layer is push-driven by design.
/// The stream is decoded at its original rate when Opus supports it (8, 12, 16, 24, 48 kHz), else at 48 kHz; the
/// pre-skip is dropped and the last page's granule position trims the end, so the length is exact.
///
/// Threading: see `AudioStreamDecoder`.
public final class OggOpusStreamDecoder: AudioStreamDecoder {
    public private(set) var format: PCMFormat?
    private var sync = ogg_sync_state()
    private var stream = ogg_stream_state()
    private var streamSerial: Int32?
    private var decoder: OpaquePointer?
    private var headerPackets = 0
    /// Frames still to drop at the start, at the decoding rate.
    private var preSkip = 0
    private var preSkip48k = 0
    /// Linear output gain from OpusHead (1 when none).
    private var gain = 1.0
    private var framesOut = 0
    private var pcm: [Int16] = []
    private var sawPage = false
    private var ended = false

    public init() {
        ogg_sync_init(&sync)
    }

    deinit {
        ogg_sync_clear(&sync)
        if streamSerial != nil { ogg_stream_clear(&stream) }
        if let decoder { opus_decoder_destroy(decoder) }
    }

    public func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM] {
        var runs = PCMRuns()
        if !bytes.isEmpty, !ended {
            guard let buffer = ogg_sync_buffer(&sync, bytes.count) else { throw AudioDecodingError("libogg ran out of memory") }
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            ogg_sync_wrote(&sync, bytes.count)
        }
        var page = ogg_page()
        while !ended {
            let result = ogg_sync_pageout(&sync, &page)
            if result == 0 { break }
            if result < 0 {
                // Skipped bytes that are not a page: fatal before the first page, a hole later (libogg resyncs).
                if !sawPage { throw AudioDecodingError("the Ogg stream does not start with a page") }
                continue
            }
            sawPage = true
            try take(page: &page, into: &runs)
        }
        return runs.take()
    }

    public func finish() throws(AudioDecodingError) -> [DecodedPCM] {
        guard decoder != nil, headerPackets >= 2 else {
            throw AudioDecodingError(sawPage ? "the Ogg Opus stream ended inside its headers" : "the Ogg stream is empty or cut before its first page")
        }
        return []
    }

    private func take(page: inout ogg_page, into runs: inout PCMRuns) throws(AudioDecodingError) {
        let serial = ogg_page_serialno(&page)
        if streamSerial == nil {
            guard ogg_page_bos(&page) != 0 else { throw AudioDecodingError("the Ogg stream does not start with a beginning-of-stream page") }
            ogg_stream_init(&stream, serial)
            streamSerial = serial
        }
        // Other logical streams (a chained or multiplexed file) are ignored: speech servers send one.
        guard serial == streamSerial else { return }
        guard ogg_stream_pagein(&stream, &page) == 0 else { throw AudioDecodingError("libogg refused an Ogg page") }
        var packet = ogg_packet()
        var decoded = 0
        while ogg_stream_packetout(&stream, &packet) == 1 {
            let data = UnsafeRawBufferPointer(start: packet.packet, count: packet.bytes)
            switch headerPackets {
            case 0: try readHead(data); headerPackets = 1
            case 1: headerPackets = 2  // OpusTags: nothing speakd needs.
            default: decoded += try decode(data, appendingAt: decoded)
            }
        }
        guard decoded > 0, let format else { return }
        var frames = decoded / format.channels
        if ogg_page_eos(&page) != 0 {
            ended = true
            // The last page's granule position (at 48 kHz, pre-skip included) says where the audio really ends.
            let granule = Int(ogg_page_granulepos(&page))
            if granule >= 0 {
                let total = max(0, (granule - preSkip48k) * format.sampleRate / 48_000)
                frames = max(0, min(frames, preSkip + total - framesOut))
            }
        }
        var start = 0
        if preSkip > 0 {
            start = min(preSkip, frames)
            preSkip -= start
        }
        if frames > start {
            if gain != 1.0 {
                for index in (start * format.channels)..<(frames * format.channels) {
                    pcm[index] = Int16(max(-32_768, min(32_767, (Double(pcm[index]) * gain).rounded())))
                }
            }
            runs.append(pcm[(start * format.channels)..<(frames * format.channels)], format: format)
            framesOut += frames - start
        }
    }

    private func readHead(_ data: UnsafeRawBufferPointer) throws(AudioDecodingError) {
        guard data.count >= 19, data.prefix(8).elementsEqual("OpusHead".utf8) else {
            if data.prefix(7).elementsEqual([1] + Array("vorbis".utf8)) {
                throw AudioDecodingError("Ogg Vorbis audio, which speakd does not decode (Opus, MP3, FLAC and WAV it does)")
            }
            throw AudioDecodingError("an Ogg stream that is not Opus audio")
        }
        let channels = Int(data[9])
        let inputRate = Int(data[12]) | Int(data[13]) << 8 | Int(data[14]) << 16 | Int(data[15]) << 24
        let gainQ8 = Int16(bitPattern: UInt16(data[16]) | UInt16(data[17]) << 8)
        guard data[18] == 0, (1...2).contains(channels) else {
            throw AudioDecodingError("Ogg Opus with \(channels) channels (mapping family \(data[18])): only mono and stereo are decoded")
        }
        let rate = [8_000, 12_000, 16_000, 24_000, 48_000].contains(inputRate) ? inputRate : 48_000
        preSkip48k = Int(data[10]) | Int(data[11]) << 8
        preSkip = preSkip48k * rate / 48_000
        gain = gainQ8 == 0 ? 1.0 : pow(10, Double(gainQ8) / (20.0 * 256.0))
        var error: Int32 = 0
        decoder = opus_decoder_create(Int32(rate), Int32(channels), &error)
        guard decoder != nil, error == OPUS_OK else {
            throw AudioDecodingError("libopus could not start a decoder: \(String(cString: opus_strerror(error)))")
        }
        format = PCMFormat(sampleRate: rate, channels: channels)
        // 120 ms, the longest Opus packet, per channel.
        pcm = [Int16](repeating: 0, count: rate * 120 / 1000 * channels)
    }

    /// Decodes one packet into `pcm` at `offset` samples; returns the samples written.
    private func decode(_ data: UnsafeRawBufferPointer, appendingAt offset: Int) throws(AudioDecodingError) -> Int {
        guard let decoder, let format else { return 0 }
        let maxFrames = format.sampleRate * 120 / 1000
        if pcm.count < offset + maxFrames * format.channels { pcm += [Int16](repeating: 0, count: maxFrames * format.channels) }
        let frames = pcm.withUnsafeMutableBufferPointer { out in
            opus_decode(decoder, data.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(data.count),
                        out.baseAddress! + offset, Int32(maxFrames), 0)
        }
        guard frames >= 0 else {
            throw AudioDecodingError("libopus could not decode a packet: \(String(cString: opus_strerror(frames)))")
        }
        return Int(frames) * format.channels
    }
}
