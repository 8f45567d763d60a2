import Hummingbird
import NIOCore
import SpeakdProtocol

/// `GET /v1/events`: every job's events as Server-Sent Events (`event: job`, `data: <the socket's event JSON>`),
/// until the client goes. A client that does not read loses the oldest events beyond 1,024, never the daemon's
/// memory.
///
/// Threading: a value type; the stream's continuation is Sendable and fed from EventHub's callers.
struct EventStream {
    let backend: any FrontDoorBackend

    func response() -> Response {
        let connection = backend.newConnection()
        let (stream, sink) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(1_024))
        sink.yield(ByteBuffer(string: ": speakd events\n\n"))
        let backend = backend
        backend.register(connection, everyJob: true) { event in
            var line = WireCodec.encodeLine(event)
            line.removeLast()   // its newline; SSE ends a message with a blank line
            var buffer = ByteBuffer(string: "event: \(event.event.rawValue)\ndata: ")
            buffer.writeBytes(line)
            buffer.writeString("\n\n")
            sink.yield(buffer)
        }
        sink.onTermination = { _ in backend.unregister(connection) }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: .init(asyncSequence: stream))
    }
}
