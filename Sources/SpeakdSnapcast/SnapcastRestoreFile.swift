import Foundation

/// The streams the group switcher must give back, kept in a small JSON file while an announcement holds groups, so a
/// speakd that died mid-announcement restores them when it starts again:
/// `{"announcement":"announce","restore":{"GROUP-ID":"music",…}}`.
///
/// Threading: a value type; Sendable. Only the switcher's thread reads and writes the file.
struct SnapcastRestoreFile: Sendable {
    let path: String

    /// Group id → stream to restore; empty when there is no file. Throws when the file exists but cannot be read.
    func load() throws(SnapcastStateFileError) -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let restore = object["restore"] as? [String: String] else {
                throw SnapcastStateFileError("the state file \(path) is not {\"restore\":{GROUP:STREAM}}")
            }
            return restore
        } catch let error as SnapcastStateFileError {
            throw error
        } catch {
            throw SnapcastStateFileError("cannot read the state file \(path): \(error.localizedDescription)")
        }
    }

    /// Writes atomically (a temporary file renamed over it): a crash leaves the old file or the new one.
    func save(_ restore: [String: String], announcement: String) throws(SnapcastStateFileError) {
        do {
            let data = try JSONSerialization.data(withJSONObject: ["announcement": announcement, "restore": restore],
                                                  options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SnapcastStateFileError("cannot write the state file \(path): \(error.localizedDescription)")
        }
    }

    func delete() throws(SnapcastStateFileError) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw SnapcastStateFileError("cannot delete the state file \(path): \(error.localizedDescription)")
        }
    }
}

/// The state file could not be read, written or deleted; the text says which file and why.
struct SnapcastStateFileError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
