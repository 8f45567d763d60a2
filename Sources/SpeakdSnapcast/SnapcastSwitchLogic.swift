/// What the group switcher does, one request at a time: counts overlapping announcements, switches the chosen groups
/// to the announcement stream on the first, and gives every group back the stream it had on the last.
///
/// The streams to give back (`restore`, group id → stream) outlive a failed exchange: they stay in memory and in the
/// state file until a later exchange gives them back, so a server that was down when speech ended, or a speakd that
/// died mid-announcement, loses nothing. A group found on another stream than the announcement's when it is given
/// back was switched by someone else meanwhile and is left where it is. The give-back waits `restoreDelay` after
/// the last end (snapclients drop what they hold of a stream when their group switches, so switching back at once
/// would cut the last `buffer` ms of speech); a start within that time keeps the groups where they are.
///
/// Threading: confined to the switcher's thread; not Sendable. Every method blocks on the network for at most the
/// RPC client's timeouts.
final class SnapcastSwitchLogic {
    let stream: String
    let selectors: [String]?
    let file: SnapcastRestoreFile?
    let log: @Sendable (String) -> Void
    let rpc: SnapcastRPCClient
    let timing: SnapcastGroupSwitcher.Timing
    /// Overlapping announcements in progress.
    private(set) var depth = 0
    /// Whether the current announcement's groups were switched (a failed switch is tried again on the next start).
    private var switched = false
    private(set) var restore: [String: String] = [:]
    /// The last exchange's failure; nil when it worked.
    private(set) var lastError: String?
    private var loadedStateFile = false
    /// When the last end's give-back is due (`restoreDelay` after it).
    private var restoreDue: ContinuousClock.Instant?
    /// When a give-back that failed is tried again.
    private var retryDue: ContinuousClock.Instant?

    init(server: HostAndPort, stream: String, selectors: [String]?, stateFile: String?, timing: SnapcastGroupSwitcher.Timing,
         log: @escaping @Sendable (String) -> Void) {
        self.rpc = SnapcastRPCClient(server: server, connectTimeout: timing.connectTimeout,
                                     readTimeout: timing.readTimeout)
        self.timing = timing
        self.stream = stream
        self.selectors = selectors
        self.file = stateFile.map(SnapcastRestoreFile.init(path:))
        self.log = log
    }

    /// When `timerFired` has work: a delayed give-back, or a retry of a failed one (nil: none while speaking).
    var wakeAt: ContinuousClock.Instant? {
        guard depth == 0, !restore.isEmpty else { return nil }
        return restoreDue ?? retryDue
    }

    func timerFired() {
        guard let wakeAt, wakeAt <= .now else { return }
        giveBackAll()
    }

    /// The switcher is going away: a give-back still waiting for its delay happens now.
    func closing() {
        if depth == 0, restoreDue != nil { giveBackAll() }
    }

    func announcementStarts() {
        loadStateFile()
        restoreDue = nil                     // the groups are still switched: this announcement keeps them
        depth += 1
        if depth == 1 { switched = false }
        guard !switched else { return }      // an overlapping announcement: the groups are switched already
        defer { rpc.close() }
        do {
            let groups = try rpc.groups()
            let chosen = choose(groups)
            let chosenIDs = Set(chosen.map(\.id))
            // Leftovers of groups no longer chosen go back now; chosen groups still on the announcement keep theirs.
            try giveBack(restore.keys.filter { !chosenIDs.contains($0) }, groups)
            let toSwitch = chosen.filter { $0.streamID != stream }
            for group in toSwitch { restore[group.id] = group.streamID }
            let fileProblem = persist()
            for group in toSwitch {
                try rpc.setStream(group: group.id, to: stream)
                log("snapcast: group \(label(group)) switched from \(group.streamID) to \(stream)")
            }
            switched = true
            lastError = fileProblem
        } catch {
            fail("cannot switch the groups to \(stream): \(error)")
        }
    }

    func announcementEnds() {
        loadStateFile()
        guard depth > 0 else {
            log("snapcast: announcementEnds without announcementStarts; ignored")
            if restoreDue == nil { giveBackAll() }      // but streams a failure left switched are tried again
            return
        }
        depth -= 1
        guard depth == 0 else { return }
        switched = false
        if timing.restoreDelay > 0, !restore.isEmpty {
            restoreDue = .now + .milliseconds(Int(timing.restoreDelay * 1000))
        } else {
            giveBackAll()
        }
    }

    /// Gives back what the state file said at the first request (a previous run's leftovers), unless an
    /// announcement runs (its end gives them back).
    func restoreLeftovers() {
        loadStateFile()
        if depth == 0, restoreDue == nil { giveBackAll() }
    }

    /// Before the first request of any kind: the state file's streams join `restore`, so a start that comes
    /// before `restoreLeftovers` (or instead of it) neither forgets nor overwrites them.
    private func loadStateFile() {
        guard !loadedStateFile, let file else { return }
        loadedStateFile = true
        do {
            let saved = try file.load()
            guard !saved.isEmpty else { return }
            log("snapcast: \(saved.count) group(s) left on \(stream) by an earlier run; restoring")
            restore.merge(saved) { current, _ in current }
        } catch {
            fail("\(error) (it will be overwritten)")
        }
    }

    /// Gives every remembered group its stream back (the end of speech, or a retry after a failure).
    func giveBackAll() {
        restoreDue = nil
        retryDue = nil
        guard !restore.isEmpty else { return }
        defer { rpc.close() }
        do {
            let groups = try rpc.groups()
            lastError = nil
            try giveBack(Array(restore.keys), groups)
            lastError = persist() ?? lastError
        } catch {
            _ = persist()
            retryDue = .now + .milliseconds(Int(timing.retryInterval * 1000))
            fail("cannot restore the groups' streams (kept for a retry): \(error)")
        }
    }

    // MARK: - Steps

    /// The groups the selectors name (every group without selectors); logs a selector that names none.
    private func choose(_ groups: [SnapcastGroup]) -> [SnapcastGroup] {
        guard let selectors else { return groups }
        for selector in selectors where !groups.contains(where: { $0.isNamed(by: selector) }) {
            log("snapcast: no group, group name or client is called \"\(selector)\"")
        }
        return groups.filter { group in selectors.contains { group.isNamed(by: $0) } }
    }

    /// Gives back `ids`' remembered streams, forgetting each group once done. Stops at the first failed exchange.
    private func giveBack(_ ids: [String], _ groups: [SnapcastGroup]) throws(SnapcastRPCError) {
        for id in ids.sorted() {
            guard let previous = restore[id] else { continue }
            guard let group = groups.first(where: { $0.id == id }) else {
                log("snapcast: group \(id) is gone; nothing to restore")
                restore[id] = nil
                continue
            }
            if group.streamID == stream {
                do {
                    try rpc.setStream(group: id, to: previous)
                    log("snapcast: group \(label(group)) back on \(previous)")
                } catch where error.refusedByServer {
                    // E.g. the stream is gone from the server's configuration: retrying would fail for ever.
                    fail("cannot give group \(label(group)) back \(previous); forgotten: \(error)")
                }
            } else if group.streamID != previous {      // (on `previous` already: a switch that failed half-way)
                log("snapcast: group \(label(group)) was switched to \(group.streamID) meanwhile; left alone (not back to \(previous))")
            }
            restore[id] = nil
        }
    }

    /// Writes `restore` to the state file, or deletes the file when nothing is left; returns the failure's text.
    private func persist() -> String? {
        guard let file else { return nil }
        do {
            if restore.isEmpty { try file.delete() } else { try file.save(restore, announcement: stream) }
            return nil
        } catch {
            log("snapcast: \(error)")
            return "\(error)"
        }
    }

    private func fail(_ message: String) {
        log("snapcast: \(message)")
        lastError = message
    }

    private func label(_ group: SnapcastGroup) -> String {
        let names = group.name.isEmpty ? group.clients.map(\.id).joined(separator: ", ") : group.name
        return names.isEmpty ? group.id : "\(group.id) (\(names))"
    }
}
