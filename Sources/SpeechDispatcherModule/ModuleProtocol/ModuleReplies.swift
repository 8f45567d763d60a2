/// The exact reply and event lines of the output-module protocol. speech-dispatcher matches on the three-digit code
/// and, for a few replies, on the text, so these are kept byte for byte as its own modules send them.
///
/// Threading: constants; Sendable.
public enum ModuleReplies {
    public static let initialized = "299 OK LOADED SUCCESSFULLY"
    public static let initFailed = "399 ERR CANT INIT MODULE"
    public static let receivingAudio = "207 OK RECEIVING AUDIO SETTINGS"
    public static let audioInitialized = "203 OK AUDIO INITIALIZED"
    public static let audioRefused = "300 MODULE ERROR"
    public static let receivingLogLevel = "207 OK RECEIVING LOGLEVEL SETTINGS"
    public static let logLevelSet = "203 OK LOGLEVEL SET"
    public static let voiceListSent = "200 OK VOICE LIST SENT"
    public static let cannotListVoices = "304 CANT LIST VOICES"
    public static let receivingSettings = "203 OK RECEIVING SETTINGS"
    public static let settingsReceived = "203 OK SETTINGS RECEIVED"
    public static let invalidSetting = "303 ERROR INVALID PARAMETER OR VALUE"
    public static let receivingMessage = "202 OK RECEIVING MESSAGE"
    public static let speaking = "200 OK SPEAKING"
    public static let cannotSpeak = "301 ERROR CANT SPEAK"
    public static let moreThanOneLine = "305 DATA MORE THAN ONE LINE"
    public static let debuggingOn = "200 OK DEBUGGING ON"
    public static let debuggingOff = "200 OK DEBUGGING OFF"
    public static let badSyntax = "302 ERROR BAD SYNTAX"
    public static let cannotOpenDebugFile = "303 CANT OPEN CUSTOM DEBUG FILE"
    public static let quit = "210 OK QUIT"
    public static let unknownCommand = "300 ERR UNKNOWN COMMAND"

    // Events, sent without being asked (never between a command and its reply).
    public static let begin = "701 BEGIN"
    public static let end = "702 END"
    public static let stopped = "703 STOP"
    public static let paused = "704 PAUSE"

    /// `700-NAME` then `700 INDEX MARK`: playback reached `<mark name="NAME"/>`.
    public static func indexMark(_ name: String) -> [String] { ["700-\(name)", "700 INDEX MARK"] }

    /// A multi-line message: every line but the last as `CODE-text`, then the closing `CODE TEXT` line.
    public static func multiline(code: Int, _ lines: [String], closing: String) -> [String] {
        lines.map { "\(code)-\(singleLine($0))" } + [closing]
    }

    /// Newlines inside a reply line would end it early; they become spaces.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
