import SpeakdSystem
#if canImport(Glibc)
import Glibc
#endif

/// Why an encoder, a sink or an archive file failed, with a message meant for a person
/// ("libmp3lame refused VBR quality 12: …", "disk full while writing /x/y.flac").
///
/// Threading: a value type; Sendable.
public struct EncoderError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A setting out of range or an input the format cannot carry (rate, channels).
        case invalidSettings
        /// The C library reported an error while encoding.
        case library
        /// The file system is full (ENOSPC, EDQUOT). Separate from `.io` so callers can say so plainly.
        case diskFull
        /// Any other system call failure (open, write, fsync, rename).
        case io
        /// The encoder was used after `finish()` or after an earlier failure.
        case misuse
        /// Encoded data that does not decode: truncated, damaged (CRC or MD5 mismatch) or not the format at all.
        case corrupt
    }

    public let kind: Kind
    public let message: String
    /// The `errno` behind an `.io` or `.diskFull` error.
    public let errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String { message }

    /// Maps a failed system call on `path` to an error: ENOSPC and EDQUOT read as "disk full", the rest carry
    /// strerror's words.
    static func system(_ operation: String, path: String, errno code: Int32) -> EncoderError {
        if code == ENOSPC || code == EDQUOT {
            return EncoderError(.diskFull, "disk full while \(operation) \(path)", errno: code)
        }
        return EncoderError(.io, "\(operation) \(path) failed: \(Errno(rawValue: code).message)", errno: code)
    }
}
