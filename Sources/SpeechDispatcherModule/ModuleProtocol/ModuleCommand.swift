/// One `key=value` line of a SET, AUDIO or LOGLEVEL block, in the order the server sent it.
///
/// Threading: a value type; Sendable.
public struct SettingLine: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A complete command from speech-dispatcher, data block included (the output-module protocol of
/// speech-dispatcher 0.11: `doc/speech-dispatcher.texi`, "Communication Protocol for Output Modules").
///
/// Threading: a value type; Sendable.
public enum ModuleCommand: Sendable, Equatable {
    case initialize
    case audio([SettingLine])
    case logLevel([SettingLine])
    case listVoices
    case set([SettingLine])
    /// SSML, as the server sends it (plain text arrives wrapped in `<speak>` with `__spd_` marks).
    case speak(String)
    /// One character (`a`, `space`).
    case char(String)
    /// One key name (`shift_a`, `kp-enter`).
    case key(String)
    case soundIcon(String)
    case stop
    case pause
    case quit
    /// The words after `DEBUG` (`ON /path` or `OFF`).
    case debug(String)
    /// A block the module must refuse with this reply (a multi-line CHAR, a SET line without `=`).
    case refused(reply: String)
    case unknown(String)
}
