import ArgumentParser
import SpeakdClient
import SpeakdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `speakctl cache stats | clear | warm FILE`: the daemon's phrase cache.
struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, clear or warm speakd's phrase cache (repeated phrases play at once, online or offline).",
        subcommands: [Stats.self, Clear.self, Warm.self],
        defaultSubcommand: Stats.self)

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries, size and hit rate.")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            printInfo(control("cache", ["action": .string("stats")], socket: connection.socket).cache)
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every cached phrase.")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let info = control("cache", ["action": .string("clear")], socket: connection.socket).cache
            guard let info, info.enabled else { fail("speakd runs without a phrase cache") }
            print("removed \(info.removed ?? 0) entries")
        }
    }

    struct Warm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Synthesize each line of FILE (- for standard input) into the cache, without playing it.",
            discussion: "Use the voice, model, speed and upstream the phrases will later be spoken with: each of them is part of the cache key.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Voice.") var voice: String?
        @Option(help: "Model.") var model: String?
        @Option(help: "Speed from 0.25 to 4.0.") var speed: Double?
        @Option(help: "How to speak (gpt-4o-mini-tts only).") var instructions: String?
        @Option(help: "A configured upstream.") var upstream: String?
        @Argument(help: "A file with one phrase per line.") var file: String

        func run() throws {
            let text: String
            if file == "-" {
                text = readAll(descriptor: 0)
            } else {
                let descriptor = open(file, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { fail("cannot read \(file): \(String(cString: strerror(errno)))") }
                defer { close(descriptor) }
                text = readAll(descriptor: descriptor)
            }
            let phrases = text.split(whereSeparator: \.isNewline).map(String.init)
                .filter { $0.unicodeScalars.contains { !$0.properties.isWhitespace } }
            guard !phrases.isEmpty else { fail("\(file) holds no phrases (one per line)") }
            var fields: [String: JSONValue] = ["action": .string("warm")]
            if let voice { fields["voice"] = .string(voice) }
            if let model { fields["model"] = .string(model) }
            if let speed { fields["speed"] = .number(speed) }
            if let instructions { fields["instructions"] = .string(instructions) }
            if let upstream { fields["upstream"] = .string(upstream) }
            var totals = (synthesized: 0, already: 0, failed: 0)
            var firstFailure: String?
            var last: CacheInfo?
            // In batches: one request line stays far below the daemon's line limit, and progress is visible.
            for start in stride(from: 0, to: phrases.count, by: 500) {
                fields["phrases"] = .array(phrases[start..<min(start + 500, phrases.count)].map { .string($0) })
                guard let info = control("cache", fields, socket: connection.socket).cache, info.enabled else {
                    fail("speakd runs without a phrase cache")
                }
                totals.synthesized += info.synthesized ?? 0
                totals.already += info.alreadyCached ?? 0
                totals.failed += info.failed ?? 0
                firstFailure = firstFailure ?? info.firstFailure
                last = info
            }
            print("\(totals.synthesized) synthesized, \(totals.already) already cached, \(totals.failed) failed")
            if let firstFailure { note("first failure: \(firstFailure)") }
            printInfo(last)
            if totals.failed > 0 { throw ExitCode(1) }
        }
    }
}

private func printInfo(_ info: CacheInfo?) {
    guard let info, info.enabled else {
        print("phrase cache: off")
        return
    }
    let rate = info.hitRate.map { "\(Int(($0 * 100).rounded()))% (\(info.hits) hits, \(info.misses) misses)" } ?? "no lookups yet"
    print("""
        directory: \(info.directory ?? "?")
        entries:   \(info.entries)
        size:      \(megabytes(info.bytes)) of \(megabytes(info.maximumBytes))
        hit rate:  \(rate)
        """)
    if info.repaired > 0 { print("repaired:  \(info.repaired) damaged entries removed") }
    if let paused = info.storingPaused { print("storing:   paused: \(paused)") }
}

private func megabytes(_ bytes: Int) -> String {
    let tenths = Int((Double(bytes) / 104_857.6).rounded())
    return "\(tenths / 10).\(tenths % 10) MB"
}
