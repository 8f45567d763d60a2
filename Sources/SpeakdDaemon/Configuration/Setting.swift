/// A value a setting can hold, with its name in the docs and its spelling in TOML.
public protocol SettingValue: Sendable {
    static var typeName: String { get }
    /// The value as a configuration file writes it (`10`, `"default"`, `[0.25, 4.0]`); "" for none.
    var toml: String { get }
}

extension Int: SettingValue {
    public static var typeName: String { "integer" }
    public var toml: String { String(self) }
}

extension Bool: SettingValue {
    public static var typeName: String { "boolean" }
    public var toml: String { self ? "true" : "false" }
}

extension String: SettingValue {
    public static var typeName: String { "string" }
    public var toml: String { tomlQuoted(self) }
}

extension Array: SettingValue where Element == Int {
    public static var typeName: String { "integer list" }
    public var toml: String { "[" + map { String($0) }.joined(separator: ", ") + "]" }
}

extension ClosedRange: SettingValue where Bound == Double {
    public static var typeName: String { "[lowest, highest]" }
    public var toml: String { "[\(lowerBound), \(upperBound)]" }
}

extension Optional: SettingValue where Wrapped: SettingValue {
    public static var typeName: String { Wrapped.typeName }
    public var toml: String { self?.toml ?? "" }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
func tomlQuoted(_ text: String) -> String {
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

/// One setting, described once: its file key, type, default, range, flag, environment variable and help. The
/// configuration reader, the resolver, `speakd`'s flags, `--check-config` and docs/configuration.md all take these
/// from `SettingsTable`, so a default or a range is written in exactly one place.
///
/// Threading: an immutable value; Sendable.
public struct Setting<Value: SettingValue>: Sendable {
    /// `section.key` as in the file (`audio.period_ms`; `upstream.NAME.base_url`; `socket` at the top level). Also
    /// the key of `ResolvedSettings.sources`.
    public let name: String
    public let defaultValue: Value
    /// The default in words when it is not simply `defaultValue` (computed, or none).
    public let defaultText: String
    /// Integers: the accepted values.
    public let range: ClosedRange<Int>?
    /// Strings: the accepted values.
    public let choices: [String]?
    /// The long flag without its dashes (`period-ms`), when the setting has one.
    public let flag: String?
    public let environment: String?
    public let help: String
    /// Set for a spelling kept only so that existing files still load: what to write instead.
    public let deprecated: String?

    public init(_ name: String, default defaultValue: Value, defaultText: String? = nil, range: ClosedRange<Int>? = nil,
                choices: [String]? = nil, flag: String? = nil, environment: String? = nil, help: String,
                deprecated: String? = nil) {
        self.name = name
        self.defaultValue = defaultValue
        self.defaultText = defaultText ?? defaultValue.toml
        self.range = range
        self.choices = choices
        self.flag = flag
        self.environment = environment
        self.help = help
        self.deprecated = deprecated
    }

    /// The key inside its table (`period_ms`).
    public var key: String { String(name[(name.lastIndex(of: ".").map(name.index(after:)) ?? name.startIndex)...]) }
    /// The table (`audio`, `upstream.NAME`), nil at the top level.
    public var section: String? { name.lastIndex(of: ".").map { String(name[..<$0]) } }
    /// The name for the upstream called `upstream` (`upstream.kokoro.base_url`), for `ResolvedSettings.sources`.
    public func name(upstream: String) -> String {
        name.hasPrefix("upstream.NAME.") ? "upstream.\(upstream)." + key : name
    }

    /// `--period-ms`.
    public var flagName: String? { flag.map { "--" + $0 } }

    /// The flag's help: the one-line help, and the default (the environment variable first when there is one).
    public var flagHelp: String {
        let scope = name.hasPrefix("upstream.NAME.") ? "; for the default upstream" : ""
        let values = choices.map { ": " + $0.joined(separator: ", ") } ?? range.map { ", \($0.lowerBound)–\($0.upperBound)" } ?? ""
        let variable = environment.map { "$\($0), else " } ?? ""
        var shown = defaultText.isEmpty ? "none" : defaultText
        if shown.count >= 2, shown.hasPrefix("\""), shown.hasSuffix("\"") { shown = String(shown.dropFirst().dropLast()) }
        return "\(help)\(values)\(scope) (default: \(variable)\(shown))."
    }

    /// Why `value` is refused, naming it as `spelled` (`period_ms`, `--period-ms`); nil when it is accepted.
    public func refusal(_ value: Int, spelled: String) -> String? {
        guard let range, !range.contains(value) else { return nil }
        return "\(spelled) must be between \(range.lowerBound) and \(range.upperBound), not \(value)"
    }

    public func refusal(_ value: String, spelled: String) -> String? {
        guard let choices, !choices.contains(value) else { return nil }
        return "\(spelled) must be one of \(choices.joined(separator: ", ")), not \"\(value)\""
    }

    /// The type-erased row for tables and documentation.
    public var row: SettingRow {
        SettingRow(name: name, section: section, key: key, type: choices?.joined(separator: " | ") ?? Value.typeName,
                   defaultText: defaultText, defaultTOML: defaultValue.toml, range: range.map { "\($0.lowerBound)–\($0.upperBound)" } ?? "",
                   flag: flagName, environment: environment, help: help, deprecated: deprecated)
    }
}

/// A setting without its Swift type: what the documentation and `--check-config` tests read.
///
/// Threading: an immutable value; Sendable.
public struct SettingRow: Sendable, Equatable {
    public var name: String
    public var section: String?
    public var key: String
    public var type: String
    public var defaultText: String
    /// The default as a file writes it; "" when there is no fixed default.
    public var defaultTOML: String
    public var range: String
    public var flag: String?
    public var environment: String?
    public var help: String
    public var deprecated: String?
}
