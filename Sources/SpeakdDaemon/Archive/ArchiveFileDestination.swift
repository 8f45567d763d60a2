import SpeakdEncoding

/// A tap destination that is an archive file: written through `AtomicFile` (a `.partial` temporary next to the final
/// name), committed by fsync + rename, discarded by unlinking the temporary.
///
/// The name is chosen and the file created in `prepare`, on the encoder thread, so nothing of it (a `localtime`, an
/// `access`, an `open` on a slow disk) sits between a job's start and its first sound.
///
/// Threading: confined to the owning tap's encoder thread.
final class ArchiveFileDestination: TapDestination {
    private let choosePath: () -> String
    private var file: AtomicFile?

    init(choosePath: @escaping () -> String) {
        self.choosePath = choosePath
    }

    func prepare() throws(EncoderError) {
        guard file == nil else { return }
        file = try AtomicFile(path: choosePath())
    }

    var sink: any EncodedSink { file!.sink }

    func commit() throws(EncoderError) -> String? {
        guard let file else { throw EncoderError(.misuse, "the archive file was never created") }
        try file.commit()
        return file.path
    }

    func discard() {
        file?.discard()
    }
}
