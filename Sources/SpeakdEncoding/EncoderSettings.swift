/// Quality settings for every format; an encoder reads the part for its own format, so one value can travel through
/// configuration and requests whatever the format turns out to be.
///
/// Threading: value types; Sendable.
public struct EncoderSettings: Sendable, Hashable {
    public var mp3 = MP3Settings()
    public var opus = OpusSettings()
    public var flac = FLACSettings()

    public init(mp3: MP3Settings = MP3Settings(), opus: OpusSettings = OpusSettings(), flac: FLACSettings = FLACSettings()) {
        self.mp3 = mp3
        self.opus = opus
        self.flac = flac
    }
}

/// libmp3lame's settings. Threading: a value type; Sendable.
public struct MP3Settings: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        /// Variable bit rate, 0 (best, largest) … 9 (smallest): lame's `-V`.
        case vbr(quality: Int)
        /// Constant bit rate in kbit/s, one of the rates of the MPEG version the sample rate selects
        /// (8…160 for 16–24 kHz, 32…320 for 32–48 kHz): lame's `-b`.
        case cbr(kbps: Int)
    }

    /// `-V 4` is lame's own default: transparent for speech at a fraction of the PCM's size.
    public var mode: Mode = .vbr(quality: 4)

    public init(mode: Mode = .vbr(quality: 4)) {
        self.mode = mode
    }

    public static let vbrQualities: ClosedRange<Int> = 0...9
}

/// libopus's settings (through libopusenc). Threading: a value type; Sendable.
public struct OpusSettings: Sendable, Hashable {
    /// Target bit rate in bit/s (libopus accepts 500…512,000). 32 kbit/s is transparent-ish for mono speech.
    public var bitrate: Int = 32_000
    /// Encoder effort 0…10; 10 is libopus's and opusenc's default.
    public var complexity: Int = 10

    public init(bitrate: Int = 32_000, complexity: Int = 10) {
        self.bitrate = bitrate
        self.complexity = complexity
    }

    public static let bitrates: ClosedRange<Int> = 500...512_000
    public static let complexities: ClosedRange<Int> = 0...10
}

/// libFLAC's settings. Threading: a value type; Sendable.
public struct FLACSettings: Sendable, Hashable {
    /// 0 (fastest) … 8 (smallest); 5 is the flac tool's default. Lossless at every level.
    public var compressionLevel: Int = 5

    public init(compressionLevel: Int = 5) {
        self.compressionLevel = compressionLevel
    }

    public static let compressionLevels: ClosedRange<Int> = 0...8
}
