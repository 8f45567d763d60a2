import CSoxr
import SpeakdCore

/// Converts the sample rate, streaming, with libsoxr (what MPD and PulseAudio use), so that audio at any source rate
/// plays on a device opened at another.
///
/// Quality: soxr's "medium" recipe (`SOXR_MQ`: 16-bit precision, medium roll-off, linear phase): transparent for
/// 16-bit speech, whose energy lies far below either Nyquist frequency, at a fraction of the "high" recipe's cost and
/// delay. No dither: digital silence stays silent and the output is reproducible.
///
/// Latency: soxr holds back a few milliseconds of frames (its filter's length); `flush` at the end of a segment
/// returns them, so the output's length is the input's times the ratio (within a frame). The same rate in and out
/// passes samples through untouched.
///
/// Threading: one task at a time (see `AudioFilter`). Allocation: soxr allocates when it is created (on the first
/// input and when the input format changes); in the steady state neither soxr nor this class allocates (the output
/// is built in a second buffer that is swapped with the caller's).
public final class Resampler: AudioFilter {
    public let outputRate: Int
    private var soxr: soxr_t?
    private var format: PCMFormat?
    private var spare: [Int16] = []

    /// - Parameter outputRate: the output's sample rate, within `PCMFormat.plausibleRates`.
    public init(outputRate: Int) {
        precondition(PCMFormat.plausibleRates.contains(outputRate), "sample rate \(outputRate) out of range")
        self.outputRate = outputRate
    }

    deinit { if let soxr { soxr_delete(soxr) } }

    public func outputFormat(for format: PCMFormat) -> PCMFormat {
        PCMFormat(sampleRate: outputRate, channels: format.channels)
    }

    /// Throws `.unsupportedFormat` for a rate outside `PCMFormat.plausibleRates`, `.library` when soxr cannot be
    /// created or fails mid-stream.
    public func process(_ samples: inout [Int16], format: PCMFormat) throws(AudioFilterError) {
        guard format.sampleRate != outputRate else { return }
        if format != self.format { try open(format) }
        guard let soxr, !samples.isEmpty else { return }
        let channels = max(format.channels, 1)
        let frames = samples.count / channels
        // soxr's output for n input frames is at most n·ratio plus what it held: room for both, once.
        let room = Int((Double(frames) * Double(outputRate) / Double(format.sampleRate)).rounded(.up)) + 64
        let produced = try run(soxr, input: samples, frames: frames, channels: channels, room: room)
        swap(&samples, &spare)
        samples.removeLast(samples.count - produced * channels)
    }

    /// Drains soxr's held frames (end of input) and readies it for unrelated input. Throws `.library` when soxr fails.
    public func flush() throws(AudioFilterError) -> [Int16] {
        guard let soxr, let format else { return [] }
        let channels = max(format.channels, 1)
        var out: [Int16] = []
        while true {
            let produced = try run(soxr, input: nil, frames: 0, channels: channels, room: 1_024)
            out += spare.prefix(produced * channels)
            if produced < 1_024 { break }
        }
        soxr_clear(soxr)
        return out
    }

    /// Feeds `frames` frames (nil: end of input) and collects everything soxr outputs into `spare`; returns the
    /// frames produced.
    private func run(_ soxr: soxr_t, input: [Int16]?, frames: Int, channels: Int, room: Int) throws(AudioFilterError) -> Int {
        var produced = 0
        var consumed = 0
        var failure: String?
        repeat {
            if spare.count < (produced + room) * channels {
                spare.append(contentsOf: repeatElement(0, count: (produced + room) * channels - spare.count))
            }
            var used = 0
            var done = 0
            let error: soxr_error_t? = spare.withUnsafeMutableBufferPointer { output in
                let out = UnsafeMutableRawPointer(output.baseAddress! + produced * channels)
                guard let input else { return soxr_process(soxr, nil, 0, nil, out, room, &done) }
                return input.withUnsafeBufferPointer { input in
                    soxr_process(soxr, UnsafeRawPointer(input.baseAddress! + consumed * channels), frames - consumed,
                                 &used, out, room, &done)
                }
            }
            if let error { failure = String(cString: error); break }
            consumed += used
            produced += done
            // Input left, or a full output buffer (more may be waiting): go round again.
            if consumed < frames || done == room { continue }
            break
        } while input != nil
        if let failure { throw AudioFilterError(.library, "resampling failed: \(failure)") }
        return produced
    }

    private func open(_ format: PCMFormat) throws(AudioFilterError) {
        guard PCMFormat.plausibleRates.contains(format.sampleRate) else {
            throw AudioFilterError(.unsupportedFormat, "cannot resample from \(format.sampleRate) Hz")
        }
        if let soxr { soxr_delete(soxr) }
        soxr = nil
        var io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I)
        io.flags |= UInt(SOXR_NO_DITHER)
        var quality = soxr_quality_spec(UInt(SOXR_MQ), 0)
        var runtime = soxr_runtime_spec(1)
        var error: soxr_error_t? = nil
        let created = soxr_create(Double(format.sampleRate), Double(outputRate), UInt32(max(format.channels, 1)), &error,
                                  &io, &quality, &runtime)
        guard error == nil, let created else {
            throw AudioFilterError(.library, "cannot create a resampler: \(error.map { String(cString: $0) } ?? "unknown")")
        }
        soxr = created
        self.format = format
    }
}
