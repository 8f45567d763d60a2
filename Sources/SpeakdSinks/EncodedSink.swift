/// Where an encoder's bytes go: a file descriptor (a file, a pipe, a socket received from a client) or memory.
///
/// A sink is a byte stream with a write position. Seekable sinks also let an encoder go back and patch a header
/// once the stream's length is known (WAV sizes, FLAC STREAMINFO, the MP3 Xing/LAME frame); encoders that need
/// that and get a sink that cannot seek say in their documentation what they do instead.
///
/// Threading: a sink is used by the one encoder that writes to it, on whatever thread that encoder runs; it is not
/// safe to share between threads.
public protocol EncodedSink: AnyObject {
    /// A name for error messages: the file's final path, "fd 5", "memory".
    var name: String { get }
    /// Whether `seek(to:)` works.
    var isSeekable: Bool { get }
    /// The byte offset the next `write` goes to.
    var offset: Int { get }
    /// Writes all of `bytes` at `offset` and advances it.
    func write(_ bytes: UnsafeRawBufferPointer) throws(EncoderError)
    /// Moves the write position (only when `isSeekable`).
    func seek(to offset: Int) throws(EncoderError)
    /// Hands buffered bytes to the destination. Encoders call it at the end of `finish`.
    func flush() throws(EncoderError)
}

extension EncodedSink {
    public func flush() throws(EncoderError) {}

    public func write(_ bytes: [UInt8]) throws(EncoderError) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(EncoderError) in try write(UnsafeRawBufferPointer(buffer)) }
    }

    /// Overwrites `bytes` at `position` and comes back to where the stream was: the header-patching step.
    public func patch(_ bytes: [UInt8], at position: Int) throws(EncoderError) {
        let end = offset
        try seek(to: position)
        try write(bytes)
        try seek(to: end)
    }
}
