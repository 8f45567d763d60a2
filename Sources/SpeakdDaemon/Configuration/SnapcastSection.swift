import SpeakdSnapcast

/// `[snapcast]` in speakd.toml: the house's speakers beside (or instead of) the local device. Off unless `source` is set.
extension ConfigurationFile {
    public struct SnapcastSection: Sendable, Equatable {
        public var source: String?
        public var sampleFormat: String?
        public var bufferMilliseconds: Int?
        public var leadMilliseconds: Int?
        public var local: Bool?
        public var control: String?
        public var stream: String?
        public var groups: String?
    }

    static func snapcastSection(_ reader: inout TableReader) throws(Invalid) -> SnapcastSection? {
        guard var table = try reader.table("snapcast") else { return nil }
        var section = SnapcastSection()
        section.source = try table.string(SettingsTable.snapcastSource)
        section.sampleFormat = try table.string(SettingsTable.snapcastSampleFormat)
        section.bufferMilliseconds = try table.integer(SettingsTable.snapcastBufferMs)
        section.leadMilliseconds = try table.integer(SettingsTable.snapcastLeadMs)
        section.local = try table.bool(SettingsTable.snapcastLocal)
        section.control = try table.string(SettingsTable.snapcastControl)
        section.stream = try table.string(SettingsTable.snapcastStream)
        section.groups = try table.string(SettingsTable.snapcastGroups)
        try table.rejectUnknown()
        do {
            if let source = section.source {
                _ = try SnapcastSource(uri: source, sampleFormat: section.sampleFormat ?? SettingsTable.snapcastSampleFormat.defaultValue)
            }
        } catch {
            throw Invalid(path: reader.path, line: table.lineOf(SettingsTable.snapcastSource), reason: "[snapcast] \(error)")
        }
        if let control = section.control, HostAndPort(control) == nil {
            throw Invalid(path: reader.path, line: table.lineOf(SettingsTable.snapcastControl),
                          reason: "[snapcast] control \"\(control)\" must be HOST:PORT (snapserver's JSON-RPC, port 1705)")
        }
        if section.source == nil, section.control != nil || section.local == false {
            throw Invalid(path: reader.path, line: table.line, reason: "[snapcast] control and local need a source")
        }
        return section
    }
}

/// The Snapcast output as configured. Threading: a value type; Sendable.
public struct SnapcastOptions: Sendable, Equatable {
    public var source: SnapcastSource
    public var bufferMilliseconds = SettingsTable.snapcastBufferMs.defaultValue
    public var leadMilliseconds = SettingsTable.snapcastLeadMs.defaultValue
    /// Play on the local device too.
    public var local = SettingsTable.snapcastLocal.defaultValue
    /// snapserver's JSON-RPC, for switching groups; nil: no switching (a meta stream does it).
    public var control: HostAndPort?
    public var stream = SettingsTable.snapcastStream.defaultValue
    /// Groups to switch; nil: every group.
    public var groups: [String]?

    static func resolve(_ section: ConfigurationFile.SnapcastSection?, sources: inout [String: String]) throws -> SnapcastOptions? {
        guard let section, let uri = section.source else { return nil }
        var options = SnapcastOptions(source: try SnapcastSource(uri: uri, sampleFormat: section.sampleFormat ?? SettingsTable.snapcastSampleFormat.defaultValue))
        options.bufferMilliseconds = section.bufferMilliseconds ?? options.bufferMilliseconds
        options.leadMilliseconds = section.leadMilliseconds ?? options.leadMilliseconds
        options.local = section.local ?? options.local
        options.control = section.control.flatMap(HostAndPort.init)
        options.stream = section.stream ?? options.stream
        options.groups = section.groups.map { $0.split(separator: ",").map { String($0).trimmingWhitespace } }
        let given: [(String, Any?)] = [
            ("source", section.source), ("sample_format", section.sampleFormat), ("buffer_ms", section.bufferMilliseconds),
            ("lead_ms", section.leadMilliseconds), ("local", section.local), ("control", section.control),
            ("stream", section.stream), ("groups", section.groups),
        ]
        for (key, value) in given where value != nil { sources["snapcast." + key] = "file" }
        return options
    }
}

private extension String {
    var trimmingWhitespace: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
