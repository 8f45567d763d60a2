import SpeakdProtocol
import Synchronization

/// Identifies one client connection.
public typealias ConnectionID = UInt64

/// Fans job events out to the connections that want them: the job's owner always, `subscribe`d connections all.
///
/// Threading: Sendable; every method may be called from any task or thread (a mutex guards the table; sends only
/// enqueue bytes for the connection's writer, they never block).
public final class EventHub: Sendable {
    public struct Subscriber: Sendable {
        var all: Bool
        var send: @Sendable (Event) -> Void
    }

    private let subscribers = Mutex<[ConnectionID: Subscriber]>([:])

    public init() {}

    public func register(_ id: ConnectionID, send: @escaping @Sendable (Event) -> Void) {
        subscribers.withLock { $0[id] = Subscriber(all: false, send: send) }
    }

    public func subscribeAll(_ id: ConnectionID) {
        subscribers.withLock { $0[id]?.all = true }
    }

    public func unregister(_ id: ConnectionID) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
    }

    /// Sends `event` to one connection only (a job's `audio` stream goes to its owner, never to subscribers).
    public func send(_ event: Event, to owner: ConnectionID) {
        let target = subscribers.withLock { $0[owner]?.send }
        target?(event)
    }

    public func publish(_ event: Event, owner: ConnectionID?) {
        let targets = subscribers.withLock { table in
            table.compactMap { id, subscriber in subscriber.all || id == owner ? subscriber.send : nil }
        }
        for send in targets { send(event) }
    }
}
