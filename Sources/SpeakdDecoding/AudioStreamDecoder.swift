import SpeakdCore

/// Why an upstream's body could not be decoded, in words for people ("the upstream's WAV header is corrupt …").
/// The caller adds who sent it (the server's base URL).
///
/// Threading: a value type; Sendable.
public struct AudioDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A run of decoded samples in one format: interleaved s16, whole frames only.
///
/// Threading: a value type; Sendable.
public struct DecodedPCM: Sendable, Equatable {
    public var format: PCMFormat
    public var samples: [Int16]

    public init(format: PCMFormat, samples: [Int16]) {
        self.format = format
        self.samples = samples
    }
}

/// One streaming decoder: bytes in, in chunks of any size, whole frames of s16 out as soon as they can be decoded.
///
/// Every decoder gives the same samples whatever the chunking of its input. A format change (a new WAV header,
/// an MP3 stream switching rate) starts a new `DecodedPCM` run, so one run never mixes formats.
///
/// Threading: not thread-safe; one instance per response body, used by one task at a time (it owns C state).
public protocol AudioStreamDecoder: AnyObject {
    /// Decodes what `bytes` completes; returns the runs decoded (often none or one).
    func push(_ bytes: UnsafeRawBufferPointer) throws(AudioDecodingError) -> [DecodedPCM]
    /// The body ended: returns what was held back; throws if it ended inside a frame or header.
    func finish() throws(AudioDecodingError) -> [DecodedPCM]
    /// The format of the samples decoded last (nil before any is known).
    var format: PCMFormat? { get }
}

/// Collects decoded samples into runs, one per format, keeping only whole frames.
struct PCMRuns {
    private(set) var runs: [DecodedPCM] = []

    mutating func append(_ samples: some Collection<Int16>, format: PCMFormat) {
        guard !samples.isEmpty else { return }
        if let last = runs.indices.last, runs[last].format == format {
            runs[last].samples.append(contentsOf: samples)
        } else {
            runs.append(DecodedPCM(format: format, samples: Array(samples)))
        }
    }

    /// Hands the runs over and starts empty.
    mutating func take() -> [DecodedPCM] {
        defer { runs = [] }
        return runs
    }
}

extension PCMFormat {
    /// Rates the decoders accept from a header; anything else is a corrupt header or a lying server.
    static func checked(rate: Int, channels: Int, what: String) throws(AudioDecodingError) -> PCMFormat {
        guard PCMFormat.plausibleRates.contains(rate), (1...8).contains(channels) else {
            throw AudioDecodingError("\(what) says \(rate) Hz, \(channels) channels: not plausible")
        }
        return PCMFormat(sampleRate: rate, channels: channels)
    }
}

/// `withUnsafeBytes` for a decoder's typed throws (the standard library's rethrows as `any Error`).
func withBytes<Result>(_ bytes: [UInt8],
                       _ body: (UnsafeRawBufferPointer) throws(AudioDecodingError) -> Result) throws(AudioDecodingError) -> Result {
    do {
        return try bytes.withUnsafeBytes { raw in try body(raw) }
    } catch {
        throw error as? AudioDecodingError ?? AudioDecodingError("\(error)")
    }
}
