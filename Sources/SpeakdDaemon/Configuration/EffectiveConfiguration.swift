import SpeakdProtocol
import SpeakdSynthesis

extension ResolvedSettings {
    /// The effective configuration as `speakd --check-config` prints it: TOML a user could paste into a file, with
    /// each value's source in a comment and every secret masked.
    public func describe() -> String {
        var lines = ["# speakd effective configuration (flag > environment > file > default); secrets masked"]
        lines.append("# configuration file: \(configPath ?? "none found (looked in: \(SettingsResolver.searchPath(environment: processEnvironment()).joined(separator: ", ")))")")
        func line(_ key: String, _ value: String, source: String? = nil) {
            let origin = source ?? sources[key] ?? "default"
            lines.append("\(key) = \(value)".padding(toLength: 44) + " # \(origin)")
        }
        line("socket", quoted(options.socketPath))
        if let access = options.accessList {
            line("allowed_uids", "[\(access.uids.sorted().map(String.init).joined(separator: ", "))]", source: "file")
            line("allowed_gids", "[\(access.gids.sorted().map(String.init).joined(separator: ", "))]", source: "file")
        }
        line("engine", quoted(options.engine.rawValue))
        line("log_level", quoted(logLevel))
        if let name = options.defaultUpstream { line("default_upstream", quoted(name)) }
        line("voice", quoted(options.voice))
        line("model", quoted(options.model))
        lines.append("")
        lines.append("[limits]")
        line("max_connections", "\(options.maxConnections)", source: "file or default")
        line("max_queued_jobs", "\(options.maxQueuedJobs)", source: "file or default")
        line("max_line_bytes", "\(options.maxLineBytes)", source: "file or default")
        line("max_text_characters", "\(options.maxTextCharacters)", source: "file or default")
        line("max_unread_bytes", "\(options.maxUnreadBytes)", source: "file or default")
        for fixed in FixedLimits.lines { lines.append("# \(fixed)") }
        lines.append("")
        lines.append("[audio]")
        line("device", quoted(options.device))
        line("period_ms", "\(options.periodMicroseconds / 1000)")
        line("buffer_ms", "\(options.bufferMicroseconds / 1000)")
        line("normalize", options.loudness == nil ? "false" : "true", source: sources["normalize"])
        if let loudness = options.loudness {
            line("loudness_target", "\(Int(loudness.integrated))", source: "file or default")
            line("true_peak", "\(Int(loudness.truePeak))", source: "file or default")
        }
        lines.append("")
        lines.append("[embedded]")
        line("voice", quoted(options.embeddedVoice), source: sources["embedded_voice"])
        let fallback = JobPriority.allCases.filter(options.fallbackPriorities.contains).map(\.rawValue).joined(separator: ",")
        line("fallback", quoted(fallback.isEmpty ? "none" : fallback), source: sources["fallback"])
        lines.append("")
        lines.append("[archive]")
        let archive = options.archive
        if let directory = archive.directory {
            line("directory", quoted(directory), source: sources["archive.directory"])
        } else {
            lines.append("# directory: none (archiving is off unless a job asks for it, and then fails)")
        }
        line("format", quoted(archive.format.rawValue), source: sources["archive.format"])
        line("name_pattern", quoted(archive.namePattern), source: sources["archive.name_pattern"])
        switch archive.settings.mp3.mode {
        case .vbr(let quality): line("mp3_quality", "\(quality)", source: sources["archive.mp3"])
        case .cbr(let kbps): line("mp3_bitrate", "\(kbps)", source: sources["archive.mp3"])
        }
        line("opus_bitrate", "\(archive.settings.opus.bitrate)", source: sources["archive.opus_bitrate"])
        line("flac_compression", "\(archive.settings.flac.compressionLevel)", source: sources["archive.flac_compression"])
        lines.append("")
        lines.append("[cache]")
        let cache = options.cache
        line("enabled", "\(cache.enabled)", source: sources["cache.enabled"])
        if let directory = cache.directory {
            line("directory", quoted(directory), source: sources["cache.directory"])
        } else {
            lines.append("# directory: none found (no CACHE_DIRECTORY, XDG_CACHE_HOME or HOME): the cache is off")
        }
        line("max_size_mb", "\(cache.maximumMegabytes)", source: sources["cache.max_size_mb"])
        line("max_text_length", "\(cache.maximumTextCharacters)", source: sources["cache.max_text_length"])
        line("memory_mb", "\(cache.memoryMegabytes)", source: sources["cache.memory_mb"])
        describeFrontDoors(line: { key, value, source in line(key, value, source: source ?? "default") },
                           comment: { lines.append($0) })
        for upstream in options.upstreams {
            let prefix = "upstream.\(upstream.name)"
            let configuration = upstream.configuration
            lines.append("")
            lines.append("[\(prefix)]")
            line("base_url", quoted(configuration.baseURL), source: sources[prefix + ".base_url"] ?? "default")
            if let key = configuration.apiKey {
                line("api_key", quoted(Self.mask(key)), source: sources[prefix + ".api_key"])
            } else {
                lines.append("# api_key: none")
            }
            if let model = upstream.model { line("model", quoted(model), source: "file") }
            if let voice = upstream.voice { line("voice", quoted(voice), source: "file") }
            if let rate = configuration.sampleRateOverride { line("sample_rate", "\(rate)", source: sources[prefix + ".sample_rate"] ?? "file") }
            if let channels = configuration.channelsOverride { line("channels", "\(channels)", source: "file") }
            // Seconds: to connect; from sending to the response's headers; of silence mid-stream.
            line("connect_timeout", "\(configuration.connectTimeoutSeconds)", source: sources[prefix + ".connect_timeout"] ?? "default")
            line("first_byte_timeout", "\(configuration.firstByteTimeoutSeconds)", source: sources[prefix + ".first_byte_timeout"] ?? "default")
            line("idle_timeout", "\(configuration.idleTimeoutSeconds)", source: sources[prefix + ".idle_timeout"] ?? "default")
            if let caFile = configuration.caFile { line("ca_file", quoted(caFile), source: sources[prefix + ".ca_file"]) }
            line("keep_warm", "\(configuration.keepWarmSeconds)", source: sources[prefix + ".keep_warm"] ?? "default (off)")
            if let count = configuration.concurrentRequests {
                line("concurrent_requests", "\(count)", source: sources[prefix + ".concurrent_requests"] ?? "file")
            } else {
                lines.append("# concurrent_requests: unknown (the first request runs alone; then up to 2, or 3 for a slow server)")
            }
            if let range = configuration.speedRange {
                line("speed_range", "[\(range.lowerBound), \(range.upperBound)]", source: sources[prefix + ".speed_range"] ?? "file")
            } else {
                lines.append("# speed_range: learned (assumed [\(UpstreamSpeed.contractRange.lowerBound), \(UpstreamSpeed.contractRange.upperBound)] until the upstream refuses a speed or ignores it)")
            }
            if !configuration.extraBody.isEmpty {
                lines.append("[\(prefix).extra_body]")
                for (key, value) in configuration.extraBody.sorted(by: { $0.key < $1.key }) {
                    lines.append("\(key) = \(String(decoding: WireCodec.encodeLine(value).dropLast(), as: UTF8.self))")
                }
            }
        }
        return lines.map { $0.hasSuffix(" # ") ? String($0.dropLast(3)).trimmedTrailing : $0 }.joined(separator: "\n") + "\n"
    }

    /// `sk-proj-abc…xyz9` → `sk-…xyz9`: enough to tell keys apart, not enough to use one.
    static func mask(_ secret: String) -> String {
        guard secret.count > 8 else { return "…" }
        let prefix = secret.hasPrefix("sk-") ? "sk-" : ""
        return prefix + "…" + secret.suffix(4)
    }

    func quoted(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}

private extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }

    var trimmedTrailing: String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
