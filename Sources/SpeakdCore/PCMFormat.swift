/// The shape of the PCM that flows through the pipeline. Samples are always signed 16-bit little-endian, interleaved
/// (`response_format: "pcm"` of the OpenAI contract, espeak-ng's output, and what every ALSA device takes).
///
/// Threading: a value type; Sendable.
public struct PCMFormat: Sendable, Hashable, CustomStringConvertible {
    public var sampleRate: Int
    public var channels: Int

    public init(sampleRate: Int, channels: Int = 1) {
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// What `response_format: "pcm"` means in the OpenAI contract: 24 kHz, mono.
    public static let openAISpeech = PCMFormat(sampleRate: 24_000, channels: 1)

    public var bytesPerFrame: Int { 2 * channels }

    public func seconds(frames: Int) -> Double { Double(frames) / Double(sampleRate) }
    public func frames(seconds: Double) -> Int { Int((seconds * Double(sampleRate)).rounded()) }

    /// Rates outside this range are rejected as a corrupt header or a lying upstream rather than played at a
    /// nonsensical speed.
    public static let plausibleRates: ClosedRange<Int> = 4_000...192_000

    public var description: String { "s16le \(sampleRate) Hz \(channels == 1 ? "mono" : "\(channels) ch")" }

    /// Packs into one word so the format can be published to the audio thread through a single atomic (SpeakdAudio).
    package var packed: UInt64 { UInt64(sampleRate) << 8 | UInt64(channels & 0xFF) }
    /// Bits 40 and up are free for the player's own use (the stream's role); they are ignored here.
    package init(packed: UInt64) { self.init(sampleRate: Int((packed >> 8) & 0xFFFF_FFFF), channels: Int(packed & 0xFF)) }
}
