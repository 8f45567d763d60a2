import ArgumentParser
import SpeakdCore
import SpeakdEncoding
import SpeakdSystem
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `speakd-encode`: raw s16le PCM in, an mp3/opus/flac/wav file out, through the same encoders speakd archives
/// with. A thin layer: flags → `EncoderSettings`/`Tags` → `SpeakdEncoding`.
@main
struct SpeakdEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speakd-encode",
        abstract: "Encode raw s16le PCM to mp3, opus, flac or wav, as speakd's archives are.",
        discussion: "INPUT and OUTPUT may be '-' for standard input/output. A file OUTPUT appears only once complete.")

    @Option(help: "mp3, opus (ogg), flac or wav; default: from OUTPUT's extension.")
    var format: String?
    @Option(help: "Sample rate of the input in Hz.")
    var rate = 24_000
    @Option(help: "Channels of the input (1 or 2, interleaved).")
    var channels = 1

    @Option(help: "mp3: VBR quality 0 (best) … 9 (smallest).")
    var vbr = 4
    @Option(help: "mp3: constant bit rate in kbit/s instead of VBR.")
    var cbr: Int?
    @Option(help: "opus: bit rate in bit/s.")
    var opusBitrate = 32_000
    @Option(help: "opus: complexity 0 … 10.")
    var opusComplexity = 10
    @Option(help: "flac: compression level 0 (fastest) … 8 (smallest).")
    var flacLevel = 5

    @Option(help: "Tag: the spoken text (its first 200 characters are stored).")
    var text: String?
    @Option(help: "Tag: the voice.")
    var voice: String?
    @Option(help: "Tag: the model.")
    var model: String?
    @Option(help: "Tag: the engine.")
    var engine: String?
    @Flag(help: "Tag: today's date and time.")
    var dated = false

    @Argument(help: "Raw PCM, signed 16-bit little-endian ('-': standard input).")
    var input: String
    @Argument(help: "The file to write ('-': standard output, which needs --format).")
    var output: String

    func run() throws {
        guard let format = format.map({ ArchiveFormat(name: $0) }) ?? ArchiveFormat(path: output) else {
            throw ValidationError("cannot tell the format: give --format mp3|opus|flac|wav or an OUTPUT extension")
        }
        let settings = EncoderSettings(
            mp3: MP3Settings(mode: cbr.map { .cbr(kbps: $0) } ?? .vbr(quality: vbr)),
            opus: OpusSettings(bitrate: opusBitrate, complexity: opusComplexity),
            flac: FLACSettings(compressionLevel: flacLevel))
        let tags = Tags(text: text, voice: voice, model: model, engine: engine, date: dated ? Date() : nil)

        let source: FileDescriptor
        do { source = input == "-" ? .standardInput : try FileDescriptor.open(input, .readOnly, options: .closeOnExec) } catch {
            fail("cannot open \(input): \(Errno.message(of: error))")
        }
        var file: AtomicFile?
        do throws(EncoderError) {
            file = output == "-" ? nil : try AtomicFile(path: output)
            let sink: any EncodedSink = file?.sink
                ?? FileDescriptorSink(descriptor: STDOUT_FILENO, name: "standard output")
            let encoder = try format.makeEncoder(input: PCMFormat(sampleRate: rate, channels: channels),
                                                 settings: settings, tags: tags, sink: sink)
            try pump(from: source, into: encoder)
            try encoder.finish()
            try file?.commit()
        } catch {
            file?.discard()   // exit() below runs no deinit
            fail(error.message)
        }
    }

    /// Reads the input in 64 KiB blocks and encodes them; a byte left over from an odd read waits for its partner.
    private func pump(from source: FileDescriptor, into encoder: any AudioEncoder) throws(EncoderError) {
        let frameBytes = 2 * channels
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var pending = 0
        while true {
            // The error carries the errno the read failed with, captured once (FileDescriptor retries EINTR).
            let got: Int
            do { got = try buffer.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[pending...])) } } catch {
                let code = (error as? Errno) ?? .ioError
                throw EncoderError(.io, "cannot read \(input): \(code.message)", errno: code.rawValue)
            }
            if got == 0 { break }
            let available = pending + got
            let whole = available / frameBytes * frameBytes
            try buffer.withUnsafeBufferPointer { (bytes) throws(EncoderError) in
                try UnsafeRawPointer(bytes.baseAddress!).withMemoryRebound(to: Int16.self, capacity: whole / 2) {
                    (samples) throws(EncoderError) in
                    try encoder.encode(UnsafeBufferPointer(start: samples, count: whole / 2))
                }
            }
            pending = available - whole
            if pending > 0 { buffer.replaceSubrange(0..<pending, with: buffer[whole..<available]) }
        }
        if pending > 0 { note("ignoring \(pending) trailing byte(s): not a whole frame") }
    }
}

private func note(_ message: String) {
    var line = "speakd-encode: \(message)\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

private func fail(_ message: String) -> Never {
    note(message)
    exit(1)
}
