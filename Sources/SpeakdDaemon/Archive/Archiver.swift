#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import Logging
import SpeakdEncoding
import SpeakdProtocol
import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Makes a job's encoding taps (the archive file, the client's save stream) and turns their outcomes into events:
/// `archive` events (`saved` with the path, `failed` with the reason) to the owner and subscribers, `audio` events
/// to the owner only.
///
/// Threading: Sendable; `makeTaps` may be called from any task (the job queue's actor calls it).
final class Archiver: Sendable {
    let options: ArchiveOptions
    private let events: EventHub
    private let logger: Logger
    /// Where every tap's encoder runs (created with the first tap: a daemon that never archives has no such thread).
    private let thread = Mutex<EncoderThread?>(nil)

    init(options: ArchiveOptions, events: EventHub, logger: Logger) {
        self.options = options
        self.events = events
        self.logger = logger
    }

    /// Removes the temporaries a killed daemon left in the archive directory. Called once at start, when this
    /// daemon is the directory's only writer.
    func removeStalePartials() {
        guard let directory = options.directory else { return }
        for path in AtomicFile.removeStalePartials(in: directory) {
            logger.notice("removed an unfinished archive left by an earlier run", metadata: ["path": "\(path)"])
        }
    }

    /// Whether `parameters` ask for any encoding (a daemon archive or a save stream).
    func wantsArchive(_ parameters: SpeakParameters) -> Bool {
        parameters.archive ?? (options.directory != nil)
    }

    /// The taps for one attempt at synthesizing a job; empty when it wants neither archive nor save stream.
    func makeTaps(job: String, owner: ConnectionID?, parameters: SpeakParameters, spec: JobSpec,
                  mode: EncodingTap.Mode) -> [EncodingTap] {
        guard wantsArchive(parameters) || parameters.save != nil else { return [] }
        let started = thread.withLock { thread -> Result<EncoderThread, ThreadStartError> in
            if let thread { return .success(thread) }
            return Result { () throws(ThreadStartError) in try EncoderThread.start() }.map { made in
                thread = made
                return made
            }
        }
        let queue: EncoderThread
        switch started {
        case .success(let thread): queue = thread
        case .failure(let error):
            // Said where the client looks for it: the archive (or the save stream) fails, the job still plays.
            if wantsArchive(parameters) { archiveFailed(job: job, owner: owner, reason: error.description) }
            if parameters.save != nil, let owner {
                events.send(Event(event: .audio, job: job, state: .failed, time: monotonicSeconds(),
                                  reason: error.description), to: owner)
            }
            return []
        }
        var taps: [EncodingTap] = []
        let tags = Tags(text: parameters.input, voice: spec.voice,
                        model: spec.kind == .embedded ? nil : spec.model,
                        engine: spec.engine.engineName, date: Date())
        let events = events
        if wantsArchive(parameters) {
            if let directory = options.directory {
                let options = options
                let text = parameters.input
                let destination = ArchiveFileDestination {
                    Self.uniquePath(options: options, directory: directory, job: job, text: text)
                }
                let logger = logger
                taps.append(EncodingTap(destination: destination, format: options.format, settings: options.settings,
                                        tags: tags, mode: mode, queue: queue) { outcome in
                    switch outcome {
                    case .saved(let path):
                        logger.info("archived", metadata: ["job": "\(job)", "path": "\(path ?? "")"])
                        events.publish(Event(event: .archive, job: job, state: .saved, time: monotonicSeconds(),
                                             path: path), owner: owner)
                    case .failed(let reason):
                        logger.warning("archive failed", metadata: ["job": "\(job)", "reason": "\(reason)"])
                        events.publish(Event(event: .archive, job: job, state: .failed, time: monotonicSeconds(),
                                             reason: reason), owner: owner)
                    }
                })
            } else {
                archiveFailed(job: job, owner: owner, reason: "no archive directory is configured (archive.directory, --archive-dir)")
            }
        }
        if let save = parameters.save, let owner, let format = ArchiveFormat(rawValue: save.rawValue) {
            let destination = ClientStreamDestination(
                send: { offset, bytes in
                    events.send(Event(event: .audio, job: job, time: monotonicSeconds(),
                                      data: Data(bytes).base64EncodedString(), offset: offset), to: owner)
                },
                end: { length in
                    events.send(Event(event: .audio, job: job, time: monotonicSeconds(), end: true, length: length),
                                to: owner)
                })
            taps.append(EncodingTap(destination: destination, format: format, settings: options.settings, tags: tags,
                                    mode: mode, queue: queue) { outcome in
                if case .failed(let reason) = outcome {
                    events.send(Event(event: .audio, job: job, state: .failed, time: monotonicSeconds(), reason: reason),
                                to: owner)
                }
            })
        }
        return taps
    }

    private func archiveFailed(job: String, owner: ConnectionID?, reason: String) {
        logger.warning("archive failed", metadata: ["job": "\(job)", "reason": "\(reason)"])
        events.publish(Event(event: .archive, job: job, state: .failed, time: monotonicSeconds(), reason: reason),
                       owner: owner)
    }

    /// The pattern's name in `directory`, with `-2`, `-3` … before the extension if a file has it already (job ids
    /// start again at 1 with every daemon).
    private static func uniquePath(options: ArchiveOptions, directory: String, job: String, text: String) -> String {
        let name = ArchiveFileName.expand(options.namePattern, job: job, text: text, time: time(nil),
                                          fileExtension: options.format.fileExtension)
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        var candidate = base
        var number = 2
        let stem = String(base.dropLast(options.format.fileExtension.count + 1))
        while access(candidate, F_OK) == 0, number < 1000 {
            candidate = "\(stem)-\(number).\(options.format.fileExtension)"
            number += 1
        }
        return candidate
    }
}
