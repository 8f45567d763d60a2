import SpeakdProtocol
import Synchronization

/// Sends `cache` `warm` requests on a connection of their own, one at a time, so that key echo finds its phrases
/// in the daemon's phrase cache. Own connection because the daemon answers each connection's requests in order
/// and a warm's reply comes only when every phrase is synthesized: on the module's link it would hold back the
/// replies to speak and cancel (and so `703 STOP`). Only the newest waiting request is kept: settings that
/// changed again before their warm started are not worth an upstream's time.
///
/// Threading: `submit` from any thread; the work runs on the connection's reader thread.
final class CacheWarmer: Sendable {
    private struct State {
        var running = false
        var waiting: [String: JSONValue]?
    }

    private let state = Mutex(State())
    private let socketPath: String
    private let log: @Sendable (String) -> Void

    init(socketPath: String, log: @escaping @Sendable (String) -> Void) {
        self.socketPath = socketPath
        self.log = log
    }

    func submit(_ fields: [String: JSONValue]) {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.waiting = fields
                return false
            }
            state.running = true
            return true
        }
        if start { warm(fields) }
    }

    private func warm(_ fields: [String: JSONValue]) {
        let link: DaemonLink
        do { link = try DaemonLink(path: socketPath) } catch {
            log("cannot warm the phrase cache: \(error.description)")
            return next()
        }
        let count = fields["phrases"].flatMap { if case .array(let phrases) = $0 { phrases.count } else { nil } } ?? 0
        do {
            try link.startReading(onMessage: { [log] message in
                guard case let .reply(1, ok, _, _, error, _) = message else { return }
                log(ok ? "phrase cache warmed with \(count) phrases for key echo" : "cannot warm the phrase cache: \(error ?? "refused")")
                link.shutdown()
            }, onClose: { [self] in next() })
        } catch {
            log("cannot warm the phrase cache: \(error.description)")
            return next()
        }
        if !link.send(id: 1, op: "cache", fields: fields) { link.shutdown() }
    }

    private func next() {
        let fields = state.withLock { state -> [String: JSONValue]? in
            defer { state.waiting = nil }
            if state.waiting == nil { state.running = false }
            return state.waiting
        }
        if let fields { warm(fields) }
    }
}
