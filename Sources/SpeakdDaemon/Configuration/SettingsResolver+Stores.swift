import SpeakdProtocol
import SpeakdEncoding
#if canImport(Glibc)
import Glibc
#endif

/// The stores beside playback: the phrase cache and the archive, each from its section, flags and variables.
extension SettingsResolver {
    /// `[cache]` with `--cache-dir` / `SPEAKD_CACHE_DIR` and `--no-cache`.
    static func cache(flags: CommandLineSettings, environment: [String: String],
                      file: ConfigurationFile.CacheSection?, sources: inout [String: String]) -> CacheOptions {
        var cache = CacheOptions()
        if flags.noCache {
            cache.enabled = false; sources[SettingsTable.cacheEnabled.name] = "flag --no-cache"
        } else if let enabled = file?.enabled {
            cache.enabled = enabled; sources[SettingsTable.cacheEnabled.name] = "file"
        }
        if let directory = flags.cacheDirectory {
            cache.directory = directory; sources[SettingsTable.cacheDirectory.name] = "flag"
        } else if let directory = environment["SPEAKD_CACHE_DIR"], !directory.isEmpty {
            cache.directory = directory; sources[SettingsTable.cacheDirectory.name] = "environment SPEAKD_CACHE_DIR"
        } else if let directory = file?.directory {
            cache.directory = directory; sources[SettingsTable.cacheDirectory.name] = "file"
        } else {
            cache.directory = CacheOptions.defaultDirectory(environment: environment)
            sources[SettingsTable.cacheDirectory.name] = environment["CACHE_DIRECTORY"] != nil ? "environment CACHE_DIRECTORY (systemd)" : "default"
        }
        if let size = file?.maxSizeMegabytes { cache.maximumMegabytes = size; sources[SettingsTable.cacheMaxSizeMB.name] = "file" }
        if let length = file?.maxTextLength { cache.maximumTextCharacters = length; sources[SettingsTable.cacheMaxTextLength.name] = "file" }
        if let memory = file?.memoryMegabytes { cache.memoryMegabytes = memory; sources[SettingsTable.cacheMemoryMB.name] = "file" }
        return cache
    }

    /// `[archive]` with its flags and variables (`SPEAKD_ARCHIVE_DIR`, `SPEAKD_ARCHIVE_FORMAT`); quality settings
    /// come from the file only.
    static func archive(flags: CommandLineSettings, environment: [String: String],
                        file: ConfigurationFile.ArchiveSection?, sources: inout [String: String]) throws -> ArchiveOptions {
        var archive = ArchiveOptions()
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let directory = flags.archiveDirectory {
            archive.directory = directory; sources[SettingsTable.archiveDirectory.name] = "flag"
        } else if let directory = variable("SPEAKD_ARCHIVE_DIR") {
            archive.directory = directory; sources[SettingsTable.archiveDirectory.name] = "environment SPEAKD_ARCHIVE_DIR"
        } else if let directory = file?.directory {
            archive.directory = directory; sources[SettingsTable.archiveDirectory.name] = "file"
        }
        if let format = flags.archiveFormat {
            archive.format = format; sources[SettingsTable.archiveFormat.name] = "flag"
        } else if let name = variable("SPEAKD_ARCHIVE_FORMAT") {
            guard let format = ArchiveFormat(name: name) else {
                throw StartupError("SPEAKD_ARCHIVE_FORMAT must be one of mp3, opus, flac, wav, not \"\(name)\"")
            }
            archive.format = format; sources[SettingsTable.archiveFormat.name] = "environment SPEAKD_ARCHIVE_FORMAT"
        } else if let format = file?.format {
            archive.format = format; sources[SettingsTable.archiveFormat.name] = "file"
        }
        if let pattern = flags.archiveNamePattern {
            guard !pattern.isEmpty, !pattern.contains("/") else { throw StartupError("--archive-name must be a non-empty file name (no /)") }
            archive.namePattern = pattern; sources[SettingsTable.archiveNamePattern.name] = "flag"
        } else if let pattern = file?.namePattern {
            archive.namePattern = pattern; sources[SettingsTable.archiveNamePattern.name] = "file"
        }
        if let quality = file?.mp3Quality { archive.settings.mp3.mode = .vbr(quality: quality); sources[SettingsTable.mp3Quality.name] = "file" }
        if let kbps = file?.mp3Bitrate { archive.settings.mp3.mode = .cbr(kbps: kbps); sources[SettingsTable.mp3Bitrate.name] = "file" }
        if let bitrate = file?.opusBitrate { archive.settings.opus.bitrate = bitrate; sources[SettingsTable.opusBitrate.name] = "file" }
        if let level = file?.flacCompression { archive.settings.flac.compressionLevel = level; sources[SettingsTable.flacCompression.name] = "file" }
        if let directory = archive.directory {
            var info = stat()
            guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw StartupError("archive directory \(directory) does not exist or is not a directory")
            }
        }
        return archive
    }
}

extension SettingsResolver {
    /// `[chimes]`: each priority's chime checked now (a file that cannot be read stops the start with its reason,
    /// rather than leaving every announcement without its chime).
    static func chimeOptions(file: ConfigurationFile?, sources: inout [String: String]) throws -> ChimeOptions {
        var options = ChimeOptions()
        for (priority, setting) in SettingsTable.chimeByPriority {
            guard let text = file?.chimes[priority], !text.isEmpty else { continue }
            let source: Chimes.Source
            do throws(ChimeError) {
                source = try Chimes.source(text)
                if case .file = source { _ = try Chimes().samples(source, format: .openAISpeech, loudness: nil) }
            } catch {
                throw StartupError("[chimes] \(setting.key): \(error.message)")
            }
            options.byPriority[priority] = source
            sources[setting.name] = "file"
        }
        if let offset = file?.chimeOffsetMilliseconds {
            options.offsetMilliseconds = offset
            sources[SettingsTable.chimeOffsetMs.name] = "file"
        }
        return options
    }
}
