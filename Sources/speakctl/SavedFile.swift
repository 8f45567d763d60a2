#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SpeakdClient
import SpeakdSinks
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `speakctl --save FILE`: the file is created here, by the client, with the client's permissions (an `AtomicFile`
/// next to FILE), and filled with the encoded bytes speakd streams back in `audio` events (each with the offset it
/// goes to, so the encoders' header patches land where they belong). It appears under FILE only once the job
/// finished and the stream ended complete; otherwise speakctl removes it and exits non-zero.
///
/// Threading: used by speakctl's one thread.
final class SavedFile {
    let format: SaveFormat
    private let file: AtomicFile

    private init(format: SaveFormat, file: AtomicFile) {
        self.format = format
        self.file = file
    }

    /// Opens the temporary next to `path`, or exits saying why not.
    static func open(path: String, formatName: String?) -> SavedFile {
        let archiveFormat: ArchiveFormat
        if let formatName {
            guard let named = ArchiveFormat(name: formatName) else { fail("--format must be one of: mp3, opus, flac, wav") }
            archiveFormat = named
        } else {
            guard let guessed = ArchiveFormat(path: path) else {
                fail("cannot tell the format of \(path) from its extension: give --format mp3|opus|flac|wav")
            }
            archiveFormat = guessed
        }
        do {
            let file = try AtomicFile(path: path)
            InterruptCleanup.arm(removing: file.temporaryPath)
            return SavedFile(format: SaveFormat(rawValue: archiveFormat.rawValue)!, file: file)
        } catch {
            fail("cannot write \(path): \(error.message)")
        }
    }

    /// Removes the temporary (the final name never appears).
    func abandon() {
        file.discard()
        InterruptCleanup.disarm()
    }

    /// Reads the job's events until the file is complete and committed (returns) or the job or stream failed
    /// (exits 1, leaving no file).
    func receive(job: String, from daemon: DaemonConnection, verbose: Bool) {
        var jobFinished = false
        var streamEnded = false
        while !(jobFinished && streamEnded) {
            let event: Event
            do { event = try daemon.nextAnyEvent() } catch { failSaving(error.description) }
            guard event.job == job else { continue }
            switch event.event {
            case .audio:
                if let data = event.data {
                    guard let bytes = Data(base64Encoded: data), let offset = event.offset else {
                        failSaving("speakd sent audio this speakctl cannot read")
                    }
                    do throws(EncoderError) {
                        try file.sink.seek(to: offset)
                        try file.sink.write([UInt8](bytes))
                    } catch {
                        failSaving(error.message)
                    }
                } else if event.end == true, let length = event.length {
                    do throws(EncoderError) { try file.sink.flush() } catch { failSaving(error.message) }
                    if ftruncate(file.sink.descriptor, off_t(length)) != 0 {
                        failSaving("cannot write \(file.path): \(String(cString: strerror(errno)))")
                    }
                    streamEnded = true
                } else if event.state == .failed {
                    failSaving("the audio for \(file.path) could not be encoded: \(event.reason ?? "unknown reason")")
                }
            case .job:
                switch event.state {
                case .finished?:
                    jobFinished = true
                    if verbose { note("job \(job) finished\(event.duration.map { " (\(formatSeconds($0)))" } ?? "")") }
                case .cancelled?:
                    failSaving("job \(job) was cancelled: \(event.reason ?? "stopped")")
                case .failed?:
                    failSaving("job \(job) failed: \(event.error.map(describe) ?? event.reason ?? "unknown reason")")
                case .expired?:
                    failSaving("job \(job) expired: \(event.reason ?? "its ttl passed before it could start")")
                default:
                    if verbose, let state = event.state, state != .queued { note("job \(job) \(state.rawValue)") }
                }
            case .archive:
                if verbose {
                    note("archive of job \(job): \(event.state?.rawValue ?? "?") \(event.path ?? event.reason ?? "")")
                }
            case .hello:
                continue
            }
        }
        do throws(EncoderError) { try file.commit() } catch { failSaving(error.message) }
        InterruptCleanup.disarm()
        if verbose { note("saved \(file.path)") }
    }

    private func failSaving(_ message: String) -> Never {
        file.discard()
        fail(message + " (\(file.path) not written)")
    }
}
