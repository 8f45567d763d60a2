import SpeakdSnapcast
import SpeakdHTTP
import SpeakdProtocol
import SpeakdSynthesis

extension ResolvedSettings {
    /// The effective configuration as `speakd --check-config` prints it: TOML a user could paste into a file, with
    /// each value's source in a comment and every secret masked.
    public func describe() -> String {
        var lines = ["# speakd effective configuration (flag > environment > file > default); secrets masked"]
        lines.append("# configuration file: \(configPath ?? "none found (looked in: \(SettingsResolver.searchPath(environment: processEnvironment()).joined(separator: ", ")))")")
        func line<Value>(_ setting: Setting<Value>, _ value: String, upstream: String? = nil, source: String? = nil) {
            let name = upstream.map { setting.name(upstream: $0) } ?? setting.name
            let origin = source ?? sources[name] ?? "default"
            lines.append("\(setting.key) = \(value)".padding(toLength: 44) + " # \(origin)")
        }
        func section(_ name: String) {
            lines.append("")
            lines.append("[\(name)]")
        }
        typealias T = SettingsTable
        line(T.socket, quoted(options.socketPath))
        if let access = options.accessList {
            line(T.allowedUIDs, access.uids.sorted().map(Int.init).toml)
            line(T.allowedGIDs, access.gids.sorted().map(Int.init).toml)
        }
        line(T.engine, quoted(options.engine.rawValue))
        line(T.logLevel, quoted(logLevel))
        if let name = options.defaultUpstream { line(T.defaultUpstream, quoted(name)) }
        line(T.voice, quoted(options.voice))
        line(T.model, quoted(options.model))
        section("limits")
        line(T.maxConnections, "\(options.maxConnections)")
        line(T.maxQueuedJobs, "\(options.maxQueuedJobs)")
        line(T.maxLineBytes, "\(options.maxLineBytes)")
        line(T.maxTextCharacters, "\(options.maxTextCharacters)")
        line(T.maxUnreadBytes, "\(options.maxUnreadBytes)")
        for fixed in FixedLimits.lines { lines.append("# \(fixed)") }
        section("audio")
        line(T.device, quoted(options.device))
        line(T.periodMs, "\(options.periodMilliseconds)")
        line(T.bufferMs, "\(options.bufferMilliseconds)")
        line(T.normalize, options.loudness == nil ? "false" : "true")
        if let loudness = options.loudness {
            line(T.loudnessTarget, "\(Int(loudness.integrated))")
            line(T.truePeak, "\(Int(loudness.truePeak))")
        }
        if let format = options.deviceFormat {
            line(T.deviceSampleRate, "\(format.sampleRate)")
            line(T.deviceChannels, "\(format.channels)")
        } else {
            lines.append("# sample_rate, channels: each stream's own")
        }
        line(T.leadInMs, "\(options.leadIn.milliseconds)")
        line(T.leadInAfterIdleMs, "\(options.leadIn.afterIdleMilliseconds)")
        line(T.keepOpenMs, "\(options.keepOpenMilliseconds)")
        line(T.mediaRole, quoted(options.mediaRole))
        if !options.mediaRoles.isEmpty {
            section("media_roles")
            for (priority, setting) in SettingsTable.roleByPriority {
                if let role = options.mediaRoles[priority] { line(setting, quoted(role)) }
            }
        }
        section("embedded")
        line(T.embeddedVoice, quoted(options.embeddedVoice))
        let fallback = JobPriority.allCases.filter(options.fallbackPriorities.contains).map(\.rawValue).joined(separator: ",")
        line(T.fallback, quoted(fallback.isEmpty ? "none" : fallback))
        section("archive")
        let archive = options.archive
        if let directory = archive.directory {
            line(T.archiveDirectory, quoted(directory))
        } else {
            lines.append("# directory: none (archiving is off unless a job asks for it, and then fails)")
        }
        line(T.archiveFormat, quoted(archive.format.rawValue))
        line(T.archiveNamePattern, quoted(archive.namePattern))
        switch archive.settings.mp3.mode {
        case .vbr(let quality): line(T.mp3Quality, "\(quality)")
        case .cbr(let kbps): line(T.mp3Bitrate, "\(kbps)")
        }
        line(T.opusBitrate, "\(archive.settings.opus.bitrate)")
        line(T.flacCompression, "\(archive.settings.flac.compressionLevel)")
        section("cache")
        let cache = options.cache
        line(T.cacheEnabled, "\(cache.enabled)")
        if let directory = cache.directory {
            line(T.cacheDirectory, quoted(directory))
        } else {
            lines.append("# directory: none found (no CACHE_DIRECTORY, XDG_CACHE_HOME or HOME): the cache is off")
        }
        line(T.cacheMaxSizeMB, "\(cache.maximumMegabytes)")
        line(T.cacheMaxTextLength, "\(cache.maximumTextCharacters)")
        line(T.cacheMemoryMB, "\(cache.memoryMegabytes)")
        for upstream in options.upstreams {
            let name = upstream.name
            let configuration = upstream.configuration
            section("upstream.\(name)")
            line(T.baseURL, quoted(configuration.baseURL), upstream: name)
            if let key = configuration.apiKey {
                line(T.apiKey, quoted(Self.mask(key)), upstream: name)
            } else {
                lines.append("# api_key: none")
            }
            if let model = upstream.model { line(T.upstreamModel, quoted(model), source: "file") }
            if let voice = upstream.voice { line(T.upstreamVoice, quoted(voice), source: "file") }
            if let rate = configuration.sampleRateOverride {
                line(T.sampleRate, "\(rate)", upstream: name, source: sources[T.sampleRate.name(upstream: name)] ?? "file")
            }
            if let channels = configuration.channelsOverride { line(T.channels, "\(channels)", source: "file") }
            line(T.connectTimeout, "\(configuration.connectTimeoutSeconds)", upstream: name)
            line(T.firstByteTimeout, "\(configuration.firstByteTimeoutSeconds)", upstream: name)
            line(T.idleTimeout, "\(configuration.idleTimeoutSeconds)", upstream: name)
            if let caFile = configuration.caFile { line(T.caFile, quoted(caFile), upstream: name) }
            line(T.keepWarm, "\(configuration.keepWarmSeconds)", upstream: name,
                 source: sources[T.keepWarm.name(upstream: name)] ?? "default (off)")
            if let count = configuration.concurrentRequests {
                line(T.concurrentRequests, "\(count)", upstream: name)
            } else {
                lines.append("# concurrent_requests: unknown (the first request runs alone; then up to 2, or 3 for a slow server, or 1 once seen to serve one at a time)")
            }
            if let range = configuration.speedRange {
                line(T.speedRange, range.toml, upstream: name)
            } else {
                lines.append("# speed_range: learned (assumed [\(UpstreamSpeed.contractRange.lowerBound), \(UpstreamSpeed.contractRange.upperBound)] until the upstream refuses a speed or ignores it)")
            }
            if !configuration.extraBody.isEmpty {
                lines.append("[upstream.\(name).extra_body]")
                for (key, value) in configuration.extraBody.sorted(by: { $0.key < $1.key }) {
                    lines.append("\(key) = \(String(decoding: WireCodec.encodeLine(value).dropLast(), as: UTF8.self))")
                }
            }
        }
        section("chimes")
        for (priority, setting) in SettingsTable.chimeByPriority {
            if let source = options.chimes.byPriority[priority] { line(setting, quoted(source.description)) }
        }
        line(T.chimeOffsetMs, "\(options.chimes.offsetMilliseconds)")
        // The front doors: what each serves, or its defaults while it is off. Tokens and the password are never
        // shown, only their count or mask and where they come from.
        section("http")
        let http = options.frontDoors.http ?? HTTPFrontDoorConfiguration()
        line(T.httpEnabled, "\(options.frontDoors.http != nil)")
        line(T.httpAddress, quoted(http.host))
        line(T.httpPort, "\(http.port)")
        if options.frontDoors.http != nil {
            lines.append(http.tokens.isEmpty ? "# tokens: none (loopback only; every local user may speak)"
                                             : "# tokens: \(http.tokens.count) from \(sources["http.tokens"] ?? "?") (never shown)")
        }
        line(T.httpMaxBodyBytes, "\(http.maxBodyBytes)")
        line(T.httpMaxConnections, "\(http.maxConnections)")
        line(T.httpRateLimit, "\(Int(http.requestsPerSecond))")
        line(T.httpRateBurst, "\(http.burst)")
        if let certificate = http.certificateFile, let key = http.keyFile {
            line(T.httpTLSCertificate, quoted(certificate))
            line(T.httpTLSKey, quoted(key))
        } else if options.frontDoors.http != nil {
            lines.append("# TLS: off (plain HTTP)")
        }
        section("mqtt")
        let mqtt = options.frontDoors.mqtt
        line(T.mqttEnabled, "\(mqtt != nil)")
        line(T.mqttHost, quoted(mqtt?.host ?? T.mqttHost.defaultValue))
        line(T.mqttPort, "\(mqtt?.port ?? T.mqttPort.defaultValue)")
        if let mqtt {
            line(T.mqttNode, quoted(mqtt.node), source: sources[T.mqttNode.name] ?? "default (the host name)")
            if let username = mqtt.username { line(T.mqttUsername, quoted(username)) }
            if let password = mqtt.password {
                lines.append("# password: \(Self.mask(password)) from \(sources["mqtt.password"] ?? "?")")
            }
            if let caFile = mqtt.caFile { line(T.mqttTLSCAFile, quoted(caFile)) } else { lines.append("# TLS: off (plain MQTT)") }
        }
        line(T.mqttTopicPrefix, quoted(mqtt?.topicPrefix ?? T.mqttTopicPrefix.defaultValue))
        line(T.mqttDiscoveryPrefix, quoted(mqtt?.discoveryPrefix ?? T.mqttDiscoveryPrefix.defaultValue))
        section("snapcast")
        let snapcast = options.snapcast
        if let snapcast {
            line(T.snapcastSource, quoted(snapcast.source.uri))
            line(T.snapcastSampleFormat, quoted(snapcast.source.sampleFormat))
        } else {
            lines.append("# source: none (no Snapcast output)")
            line(T.snapcastSampleFormat, quoted(T.snapcastSampleFormat.defaultValue))
        }
        line(T.snapcastBufferMs, "\(snapcast?.bufferMilliseconds ?? T.snapcastBufferMs.defaultValue)")
        line(T.snapcastLeadMs, "\(snapcast?.leadMilliseconds ?? T.snapcastLeadMs.defaultValue)")
        line(T.snapcastLocal, "\(snapcast?.local ?? T.snapcastLocal.defaultValue)")
        if let control = snapcast?.control { line(T.snapcastControl, quoted("\(control.host):\(control.port)")) }
        line(T.snapcastStream, quoted(snapcast?.stream ?? T.snapcastStream.defaultValue))
        if let groups = snapcast?.groups { line(T.snapcastGroups, quoted(groups.joined(separator: ","))) }
        return lines.map { $0.hasSuffix(" # ") ? String($0.dropLast(3)).trimmedTrailing : $0 }.joined(separator: "\n") + "\n"
    }

    /// `sk-proj-abc…xyz9` → `sk-…xyz9`: enough to tell keys apart, not enough to use one.
    static func mask(_ secret: String) -> String {
        guard secret.count > 8 else { return "…" }
        let prefix = secret.hasPrefix("sk-") ? "sk-" : ""
        return prefix + "…" + secret.suffix(4)
    }

    private func quoted(_ text: String) -> String { tomlQuoted(text) }
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
