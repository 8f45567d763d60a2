/// Protocol version spoken by this build. A request may carry `"v": N`; the daemon refuses versions it does not know.
public let speakdProtocolVersion = 1

/// Parameters of a speak job. Field names and constraints follow `CreateSpeechRequest` of the OpenAI contract, except
/// that `input` may be longer than one upstream request (the daemon splits it).
///
/// Threading: a value type; Sendable.
public struct SpeakParameters: Sendable, Equatable {
    public var input: String
    public var voice: String?
    public var model: String?
    public var instructions: String?
    public var speed: Double?
    /// A configured upstream's name; the default upstream when nil.
    public var upstream: String?

    public init(input: String, voice: String? = nil, model: String? = nil, instructions: String? = nil, speed: Double? = nil,
                upstream: String? = nil) {
        self.upstream = upstream
        self.input = input
        self.voice = voice
        self.model = model
        self.instructions = instructions
        self.speed = speed
    }
}

/// One operation a client can ask for.
public enum Operation: Sendable, Equatable {
    case speak(SpeakParameters)
    /// Silence now and clear the queue.
    case stop
    case status
    case ping
    /// Receive events of every job, not only one's own.
    case subscribe

    public var name: String {
        switch self {
        case .speak: "speak"
        case .stop: "stop"
        case .status: "status"
        case .ping: "ping"
        case .subscribe: "subscribe"
        }
    }
}

/// A parsed, validated request line.
///
/// Threading: a value type; Sendable.
public struct Request: Sendable, Equatable {
    /// Echoed in the reply; a string or a number chosen by the client.
    public var id: JSONValue
    public var operation: Operation

    public init(id: JSONValue, operation: Operation) {
        self.id = id
        self.operation = operation
    }
}
