import Synchronization

/// What a front door other than the Unix socket (the HTTP API, MQTT) needs of the daemon: its own request handling
/// and its own events, so every door has the socket's job semantics, priorities and events, not a second copy.
///
/// Threading: implementations are Sendable; every method may be called from any task, concurrently.
public protocol FrontDoorBackend: Sendable {
    /// Answers one request given as a line of the wire protocol (docs/protocol.md). `connection` owns the jobs it
    /// starts (their events go to it); `origin` names the peer in the daemon's log ("http 192.0.2.7:51234").
    func handle(_ request: [UInt8], connection: UInt64, origin: String) async -> Reply
    /// Events for `connection`: its own jobs' always, every job's when `everyJob`.
    func register(_ connection: UInt64, everyJob: Bool, send: @escaping @Sendable (Event) -> Void)
    func unregister(_ connection: UInt64)
    /// A connection id no other door uses.
    func newConnection() -> UInt64
}

extension FrontDoorBackend {
    /// `op` with `fields`, as the socket would have received it.
    public func handle(op: String, fields: [String: JSONValue] = [:], connection: UInt64, origin: String) async -> Reply {
        await handle(WireCodec.encodeRequest(id: .number(1), op: op, fields: fields), connection: connection, origin: origin)
    }

    /// Speaks `fields` (the `speak` operation's fields) and, when `wait`, returns after the job's final event too.
    /// The connection is registered before the request, so no event of the job can be missed.
    public func speak(_ fields: [String: JSONValue], wait: Bool, origin: String) async -> (Reply, Event?) {
        let connection = newConnection()
        let finals = FinalEvents()
        register(connection, everyJob: false) { event in
            if event.event == .job, event.state?.isFinal == true { finals.deliver(event) }
        }
        defer { unregister(connection) }
        let reply = await handle(op: "speak", fields: fields, connection: connection, origin: origin)
        guard wait, reply.ok, let job = reply.job else { return (reply, nil) }
        return (reply, await finals.wait(for: job))
    }
}

/// Final job events that arrived, and the one waiter for a job's (the event may come before the waiter).
///
/// Threading: Sendable; a mutex guards the table.
final class FinalEvents: Sendable {
    private struct State {
        var arrived: [String: Event] = [:]
        var waiters: [String: CheckedContinuation<Event, Never>] = [:]
    }
    private let state = Mutex(State())

    func deliver(_ event: Event) {
        guard let job = event.job else { return }
        let waiter = state.withLock { state -> CheckedContinuation<Event, Never>? in
            if let waiter = state.waiters.removeValue(forKey: job) { return waiter }
            state.arrived[job] = event
            return nil
        }
        waiter?.resume(returning: event)
    }

    func wait(for job: String) async -> Event {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Event? in
                if let event = state.arrived.removeValue(forKey: job) { return event }
                state.waiters[job] = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
