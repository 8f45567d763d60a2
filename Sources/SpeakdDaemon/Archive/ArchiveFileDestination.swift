import SpeakdEncoding

/// A tap destination that is an archive file: written through `AtomicFile` (a `.partial` temporary next to the final
/// name), committed by fsync + rename, discarded by unlinking the temporary.
///
/// Threading: confined to the owning tap's queue. Created there too (`create`), lazily, so a failing `open` is
/// reported like any other archive failure.
final class ArchiveFileDestination: TapDestination {
    private var file: AtomicFile?
    private let path: String
    private let failure: EncoderError?

    init(path: String) {
        self.path = path
        do throws(EncoderError) {
            file = try AtomicFile(path: path)
            failure = nil
        } catch {
            file = nil
            failure = error
        }
    }

    /// Why the file could not be created, if it could not.
    var openError: EncoderError? { failure }

    var sink: any EncodedSink { file?.sink ?? MemorySink(name: path) }

    func commit() throws(EncoderError) -> String? {
        guard let file else { throw failure ?? EncoderError(.io, "no file for \(path)") }
        try file.commit()
        return file.path
    }

    func discard() {
        file?.discard()
    }
}
