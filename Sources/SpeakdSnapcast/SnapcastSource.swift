import SpeakdCore

/// Where speakd sends the house's audio: one of snapserver's sources, in the format that source was declared with.
///
/// - `tcp://HOST:PORT` — a `tcp://…?mode=server` source: snapserver listens, speakd connects while it speaks and
///   disconnects afterwards (the source goes idle at once, so a `meta` stream returns to the music).
/// - `pipe:///PATH` — a `pipe://` source: speakd writes into the named pipe (created by snapserver, or by speakd when
///   missing) while it speaks; the source goes idle about a second after the data stops.
///
/// Threading: a value type; Sendable.
public struct SnapcastSource: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case pipe(path: String)
    }

    public var endpoint: Endpoint
    /// The source's `sampleformat` (rate:bits:channels); speakd converts to it. 16-bit only (speakd's samples).
    public var format: PCMFormat

    public init(endpoint: Endpoint, format: PCMFormat) {
        self.endpoint = endpoint
        self.format = format
    }

    /// Parses `tcp://HOST:PORT` or `pipe:///PATH` with a `RATE:16:CHANNELS` sample format. Throws a message that
    /// names the bad part.
    public init(uri: String, sampleFormat: String) throws(SnapcastConfigurationError) {
        endpoint = try Self.endpoint(uri)
        format = try Self.format(sampleFormat)
    }

    static func endpoint(_ uri: String) throws(SnapcastConfigurationError) -> Endpoint {
        if uri.hasPrefix("pipe://") {
            let path = String(uri.dropFirst("pipe://".count))
            guard path.hasPrefix("/"), path.count > 1 else {
                throw SnapcastConfigurationError("snapcast source \"\(uri)\": a pipe needs an absolute path (pipe:///run/snapfifo)")
            }
            return .pipe(path: path)
        }
        if uri.hasPrefix("tcp://") {
            let rest = uri.dropFirst("tcp://".count).prefix { $0 != "?" && $0 != "/" }
            guard let address = HostAndPort(String(rest)) else {
                throw SnapcastConfigurationError("snapcast source \"\(uri)\": expected tcp://HOST:PORT (snapserver's tcp source in server mode)")
            }
            return .tcp(host: address.host, port: address.port)
        }
        throw SnapcastConfigurationError("snapcast source \"\(uri)\": expected tcp://HOST:PORT or pipe:///PATH")
    }

    static func format(_ text: String) throws(SnapcastConfigurationError) -> PCMFormat {
        let parts = text.split(separator: ":").map { Int($0) }
        guard parts.count == 3, let rate = parts[0], let bits = parts[1], let channels = parts[2],
              PCMFormat.plausibleRates.contains(rate), (1...2).contains(channels) else {
            throw SnapcastConfigurationError("snapcast sample format \"\(text)\": expected RATE:16:CHANNELS, e.g. 48000:16:2 (1 or 2 channels)")
        }
        guard bits == 16 else {
            throw SnapcastConfigurationError("snapcast sample format \"\(text)\": speakd sends 16-bit samples; declare the source with RATE:16:CHANNELS")
        }
        return PCMFormat(sampleRate: rate, channels: channels)
    }

    /// The URI as configured (without snapserver's query, which speakd does not read).
    public var uri: String {
        switch endpoint {
        case .tcp(let host, let port): return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .pipe(let path): return "pipe://\(path)"
        }
    }

    /// `RATE:16:CHANNELS`, as snapserver writes a source's format.
    public var sampleFormat: String { "\(format.sampleRate):16:\(format.channels)" }

    public var description: String { "\(uri) (\(sampleFormat))" }
}

/// `HOST:PORT`, `[IPv6]:PORT`. Threading: a value type; Sendable.
public struct HostAndPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}

/// A Snapcast setting that cannot be used; the text says which and why. Threading: a value type; Sendable.
public struct SnapcastConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
