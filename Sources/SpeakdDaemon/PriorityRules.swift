import SpeakdProtocol

/// The SSIP priority rules as a pure function: given the jobs not finished yet and a new arrival, which jobs are
/// cancelled, which are pulled back from the ring to wait (postponed), and whether the new job is dropped or
/// promoted. `JobQueue` carries the decisions out.
///
/// Threading: stateless; call from anywhere.
enum PriorityRules {
    /// A job as the rules see it.
    struct Existing: Equatable {
        var id: String
        /// The priority the rules apply (see `Job.priority`).
        var priority: JobPriority
        /// The priority the client asked for.
        var requested: JobPriority
        var interrupt: Bool
        /// Its audio has reached the device: it is being heard (or is about to be, within the device's buffer).
        var audible: Bool
        /// Its audio is (being) written into the ring, not yet heard.
        var inRing: Bool
    }

    enum Verdict: Equatable {
        /// Ends with a `cancelled` event carrying this reason.
        case cancel(reason: String)
        /// Taken out of the ring, to be synthesized again after the new job.
        case postpone
    }

    struct Admission: Equatable {
        /// Set when the new job is not to be spoken at all (its reason).
        var dropReason: String?
        /// The priority the new job takes (a progress job waiting behind others becomes a message).
        var priority: JobPriority
        var verdicts: [String: Verdict] = [:]
    }

    /// Order in which pending jobs are heard: lower first, then by arrival.
    static func rank(of priority: JobPriority, interrupt: Bool) -> Int {
        switch priority {
        case .important: 0
        case _ where interrupt: 1
        case .message, .text: 2
        case .notification, .progress: 3
        }
    }

    static func admit(priority: JobPriority, interrupt: Bool, among jobs: [Existing]) -> Admission {
        var admission = Admission(priority: priority)
        func cancel(where predicate: (Existing) -> Bool, reason: String) {
            for job in jobs where predicate(job) && admission.verdicts[job.id] == nil {
                admission.verdicts[job.id] = .cancel(reason: reason)
            }
        }
        let transient: Set<JobPriority> = [.notification, .progress]
        switch priority {
        case .important:
            cancel(where: { $0.audible && $0.priority != .important }, reason: "interrupted by an important announcement")
            cancel(where: { transient.contains($0.priority) }, reason: "cancelled by an important announcement")
        case .message:
            cancel(where: { [.text, .notification, .progress].contains($0.priority) }, reason: "cancelled by a message")
        case .text:
            cancel(where: { $0.priority == .text }, reason: "replaced by newer text")
            cancel(where: { transient.contains($0.priority) }, reason: "cancelled by text")
        case .notification:
            if jobs.contains(where: { $0.priority != .notification }) {
                admission.dropReason = "dropped: other speech is pending"
                return admission
            }
            cancel(where: { $0.priority == .notification }, reason: "replaced by a newer notification")
        case .progress:
            if !jobs.isEmpty {
                // Something speaks: this one waits, as a message, replacing an older waiting progress report (even one
                // already written ahead into the ring: it is not heard yet). The one speaking finishes; intermediate
                // reports are dropped; the last one is always heard.
                cancel(where: { $0.requested == .progress && !$0.audible },
                       reason: "superseded by a newer progress report")
                admission.priority = .message
            }
        }
        if interrupt && priority != .important {
            cancel(where: { $0.audible && $0.priority != .important }, reason: "interrupted")
        }
        // Whatever is written ahead in the ring but ranks below the new job is pulled back, so the new job is heard
        // first.
        let newRank = rank(of: admission.priority, interrupt: interrupt)
        for job in jobs where admission.verdicts[job.id] == nil && job.inRing && !job.audible
            && rank(of: job.priority, interrupt: job.interrupt) > newRank {
            admission.verdicts[job.id] = .postpone
        }
        return admission
    }
}
