#if canImport(Glibc)
import Glibc
#endif

/// Reading the files settings point at: API key files, systemd credentials, the configuration file itself.
extension SettingsResolver {
    /// A systemd credential (`LoadCredential=NAME:…`): `$CREDENTIALS_DIRECTORY/NAME`. Keeps the key out of unit
    /// files and the environment.
    static func readCredential(_ name: String, environment: [String: String]) throws -> String {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
            throw StartupError("API key credential \"\(name)\" requested, but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
        }
        guard !name.contains("/") else { throw StartupError("credential name \"\(name)\" must not contain /") }
        return try readKeyFile(directory + "/" + name)
    }

    static func readKeyFile(_ path: String) throws -> String {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw StartupError("the API key file \(path) is readable by group or others (mode \(mode)); make it private: chmod 600 \(path)")
        }
        guard let text = try readTextFile(path, limit: 65_536) else {
            throw StartupError("cannot read the API key file \(path): no such file")
        }
        let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let key = firstLine.filter { !$0.isWhitespace }
        guard !key.isEmpty else { throw StartupError("the API key file \(path) is empty") }
        return key
    }

    /// The file's text, or nil when it does not exist. Other failures (permissions, a directory) are errors.
    static func readTextFile(_ path: String, limit: Int = 1 << 20) throws -> String? {
        guard let handle = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw StartupError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count == 0 {
                if ferror(handle) != 0 { throw StartupError("cannot read \(path): \(String(cString: strerror(errno)))") }
                break
            }
            bytes += buffer[0..<count]
            if bytes.count > limit { throw StartupError("\(path) is larger than \(limit) bytes") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw StartupError("\(path) is not UTF-8 text") }
        return text
    }
}
