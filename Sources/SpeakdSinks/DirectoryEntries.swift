#if canImport(Glibc)
import Glibc
#endif

/// The names in a directory, `.` and `..` left out, in readdir order; nil when it cannot be opened. Shared by
/// `AtomicFile`'s clean-up and the phrase cache's start-up scan.
///
/// Threading: a pure function of the file system; any thread.
public func directoryEntryNames(_ path: String) -> [String]? {
    guard let stream = opendir(path) else { return nil }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
