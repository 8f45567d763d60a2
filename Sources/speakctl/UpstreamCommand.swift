import ArgumentParser
import SpeakdClient
import SpeakdProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `speakctl upstream check [NAME]`: the daemon probes one of its upstreams (it holds the key and the settings) and
/// this prints what it found, for people or (`--json`) for programs.
struct Upstream: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an upstream speech server and show how to configure it.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the upstream for a short and a longer phrase and a few speeds; report what it does.",
            discussion: """
                Reports: reachable, key accepted, the models and voices it lists, the audio format it sends and how it
                announces it, whether it streams, time to first byte against input length, real-time factor, the speed
                range it accepts, and warnings (e.g. audio whose length says its rate is wrong). Takes a few seconds
                (tens against a slow CPU server). Exits 1 when speakd cannot use the upstream as configured.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "A configured upstream ([upstream.NAME]); default: the default upstream.") var name: String?
        @Option(help: "Voice to ask for (default: the upstream's).") var voice: String?
        @Option(help: "Model to ask for (default: the upstream's).") var model: String?
        @Flag(help: "Print the report as JSON.") var json = false

        func run() throws {
            var fields: [String: JSONValue] = [:]
            if let name { fields["upstream"] = .string(name) }
            if let voice { fields["voice"] = .string(voice) }
            if let model { fields["model"] = .string(model) }
            if !json { note("checking the upstream (a few seconds; longer against a slow server)…") }
            guard let report = control("upstream_check", fields, socket: connection.socket).report else {
                fail("speakd sent no report: is it older than this speakctl?")
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(Self.describe(report), terminator: "")
            }
            if !report.problems.isEmpty { throw ExitCode(1) }
        }

        /// The report for people: one property per line, figures with their units.
        static func describe(_ report: UpstreamReport) -> String {
            var lines = ["upstream \(report.upstream): \(report.baseURL) (voice \(report.voice), model \(report.model))"]
            func line(_ label: String, _ text: String) { lines.append(label.padding(13) + text) }
            line("reachable:", report.reachable ? "yes" : "no")
            switch report.authentication {
            case "ok": line("key:", report.keySent ? "accepted" : "none sent, none needed")
            case "rejected": line("key:", report.keySent ? "REFUSED" : "none sent, but the server wants one")
            default: line("key:", "not known (\(report.keySent ? "a key is sent" : "no key is sent"))")
            }
            for (label, listing) in [("models:", report.models), ("voices:", report.voices)] {
                guard let listing else { continue }
                if let names = listing.names {
                    let shown = names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", … (\(names.count))" : "")
                    line(label, names.isEmpty ? "an empty list" : shown)
                } else {
                    line(label, listing.note ?? "not listed")
                }
            }
            if let format = report.format {
                var text = format.container == "raw" ? "raw PCM" : format.container.uppercased()
                if let rate = format.sampleRate {
                    let channels = format.channels == 1 ? "mono" : "\(format.channels ?? 1) channels"
                    text += ", s\(format.bitsPerSample ?? 16)le \(rate) Hz \(channels); rate from \(format.rateSource)"
                }
                line("audio:", text)
                var announced = "Content-Type: \(format.contentType ?? "(none)")"
                if !format.formatHeaders.isEmpty { announced += "; " + format.formatHeaders.joined(separator: "; ") }
                line("announced:", announced + (format.chunked ? "; chunked" : ""))
            }
            if let streams = report.streams, report.probes.count > 1, let first = report.probes[1].firstByteMilliseconds,
               let end = report.probes[1].totalMilliseconds {
                line("streams:", "\(streams ? "yes" : "no"): first audio byte after \(seconds(first)), the whole answer after \(seconds(end))")
            }
            if let model = report.firstByte {
                let points = report.probes.compactMap { probe in
                    probe.firstByteMilliseconds.map { "\(seconds($0)) for \(probe.characters) characters" }
                }
                let basis = model.basis == "input" ? "" : " of the first sentence"
                line("first byte:", points.joined(separator: ", ")
                     + " ≈ \(Int(model.baseMilliseconds.rounded())) ms + \(UpstreamCheckOutput.oneDecimal(model.millisecondsPerCharacter)) ms per character\(basis)")
            }
            if let cold = report.firstRequestMilliseconds, let warm = report.probes.first?.firstByteMilliseconds,
               cold > 1.5 * warm + 100 {
                line("cold start:", "the first request's first byte came after \(seconds(cold)) (\(seconds(warm)) warm): the server loads on demand")
            }
            if let probe = report.probes.last, let perCharacter = probe.millisecondsPerCharacter {
                line("speech:", "\(Int(perCharacter.rounded())) ms per character (people speak 60-90 at speed 1)")
            }
            if let factor = report.realTimeFactor, let probe = report.probes.last, let audio = probe.audioSeconds,
               let end = probe.totalMilliseconds {
                line("real time:", "\(UpstreamCheckOutput.oneDecimal(factor))× (\(UpstreamCheckOutput.oneDecimal(audio)) s of audio in \(seconds(end)))")
            }
            if !report.speeds.isEmpty {
                line("speeds:", report.speeds.map { probe in
                    let value = UpstreamCheckOutput.trimmed(probe.speed)
                    return probe.accepted ? "\(value) ok" : "\(value) refused"
                }.joined(separator: ", "))
                if let refusal = report.speeds.first(where: { !$0.accepted }), let message = refusal.message {
                    line("", "e.g. \(UpstreamCheckOutput.trimmed(refusal.speed)): \(message)")
                }
            }
            if let range = report.speedRange {
                line("speed range:", "\(UpstreamCheckOutput.trimmed(range.minimum))–\(UpstreamCheckOutput.trimmed(range.maximum)) (of the speeds probed)")
            }
            for warning in report.warnings { line("warning:", warning) }
            for problem in report.problems { line("PROBLEM:", problem) }
            return lines.joined(separator: "\n") + "\n"
        }

        private static func seconds(_ milliseconds: Double) -> String {
            "\(UpstreamCheckOutput.twoDecimals(milliseconds / 1_000)) s"
        }
    }
}

/// Number formats for the report, without Foundation's formatters (speakctl starts fast).
enum UpstreamCheckOutput {
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// 1.0 → "1.0", 0.25 → "0.25".
    static func trimmed(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return hundredths % 10 == 0 ? oneDecimal(value) : twoDecimals(value)
    }
}

private extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
