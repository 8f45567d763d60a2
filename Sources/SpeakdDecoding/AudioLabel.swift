import SpeakdCore

/// What a response says about its audio: the container its Content-Type names, and any sample rate or channel count
/// stated in a Content-Type parameter or in a response header of the server's own.
///
/// Threading: a value type; Sendable.
public struct AudioLabel: Sendable, Equatable {
    public enum Container: Sendable, Equatable {
        /// Raw s16 PCM (`audio/pcm`, `audio/L16`, `audio/raw`, `application/octet-stream`, none …).
        case raw(bigEndian: Bool)
        case wav, mp3, ogg, flac
        /// An audio type speakd has no decoder for (`audio/aac`): accepted only if the bytes say otherwise.
        case otherAudio
        /// Not audio at all (JSON, HTML, text …).
        case notAudio
    }

    /// The media type, lower-cased, without parameters ("" when there was no Content-Type).
    public var mediaType: String
    public var container: Container
    public var sampleRate: Int?
    public var channels: Int?
    /// Where the rate was found, for diagnostics: "Content-Type rate=", "header X-Sample-Rate".
    public var rateSource: String?

    /// - Parameters:
    ///   - contentType: the Content-Type header, if any.
    ///   - headers: every response header (name, value); names are matched case-insensitively.
    public init(contentType: String?, headers: [(String, String)] = []) {
        let parts = (contentType ?? "").split(separator: ";").map { String($0).trimmingSpaces() }
        mediaType = (parts.first ?? "").lowercased()
        var parameters: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces() }
            if pair.count == 2 { parameters[pair[0].lowercased()] = pair[1].trimmingCharacters(in: "\"").lowercased() }
        }
        container = Self.container(of: mediaType, parameters: parameters)
        for key in ["rate", "samplerate", "sample-rate", "sample_rate"] {
            if let rate = parameters[key].flatMap(Int.init), PCMFormat.plausibleRates.contains(rate) {
                sampleRate = rate
                rateSource = "Content-Type \(key)="
                break
            }
        }
        if let value = parameters["channels"].flatMap(Int.init), (1...8).contains(value) { channels = value }
        for (name, value) in headers where !name.lowercased().hasPrefix("content-type") {
            let number = Int(value.trimmingSpaces())
            if sampleRate == nil, Self.namesRate(name), let number, PCMFormat.plausibleRates.contains(number) {
                sampleRate = number
                rateSource = "header \(name)"
            }
            if channels == nil, Self.namesChannels(name), let number, (1...8).contains(number) { channels = number }
        }
    }

    /// `X-Sample-Rate`, `x-audio-sample-rate`, `sample-rate`, `X-SampleRate`, `X-Audio-Rate`: a name with a token
    /// "rate" or "samplerate". Rate-limit headers (`x-ratelimit-…`, `X-Rate-Limit-…`) never count.
    static func namesRate(_ name: String) -> Bool {
        let tokens = tokens(of: name)
        guard !tokens.contains(where: { $0.contains("limit") }) else { return false }
        return tokens.contains("rate") || tokens.contains("samplerate") || tokens.contains("samplingrate")
    }

    /// `X-Channels`, `x-audio-channels`, `channels`, `X-Channel-Count`, `X-Num-Channels`.
    static func namesChannels(_ name: String) -> Bool {
        let tokens = tokens(of: name)
        return tokens.contains("channels") || tokens.contains("numchannels")
            || (tokens.contains("channel") && tokens.contains("count"))
    }

    private static func tokens(of name: String) -> [String] {
        name.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "." }).map(String.init)
    }

    static func container(of mediaType: String, parameters: [String: String]) -> Container {
        switch mediaType {
        case "", "audio/pcm", "audio/raw", "audio/x-raw", "audio/pcm_s16le", "audio/s16le", "audio/x-pcm",
             "application/octet-stream", "binary/octet-stream", "audio/basic-pcm":
            // GStreamer-style caps may say format=S16BE.
            return .raw(bigEndian: parameters["format"] == "s16be")
        case "audio/l16", "audio/pcm_s16be", "audio/s16be":
            // RFC 2586: L16 is network byte order. A few servers add endianness=little-endian; believe them.
            let little = parameters["endianness"]?.hasPrefix("little") == true || parameters["byte-order"]?.hasPrefix("little") == true
            return .raw(bigEndian: !little)
        case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-pn-wav":
            return .wav
        case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3", "audio/mpa":
            return .mp3
        case "audio/ogg", "audio/opus", "application/ogg", "audio/x-opus+ogg":
            return .ogg
        case "audio/flac", "audio/x-flac":
            return .flac
        default:
            return mediaType.hasPrefix("audio/") ? .otherAudio : .notAudio
        }
    }
}

extension String {
    func trimmingSpaces() -> String { trimmingCharacters(in: " \t") }

    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
