import Logging
import SpeakdAudio
import SpeakdProtocol
import SpeakdSnapcast

/// The outputs the audio thread writes to: the local device, the house's speakers (Snapcast), or both (an
/// `OutputGroup` with the local device setting the pace).
///
/// Threading: built once at start, before the player; `HouseSpeakers` is Sendable.
extension Daemon {
    struct Outputs {
        var output: any AudioOutput
        var house: HouseSpeakers?
        /// The local device plays (so the start-up probe is worth making).
        var local: Bool
    }

    static func makeOutputs(_ options: DaemonOptions, logger: Logger) throws -> Outputs {
        let device = ALSAOutput(deviceName: options.device, periodMicroseconds: options.periodMicroseconds,
                                bufferMicroseconds: options.bufferMicroseconds)
        guard let snapcast = options.snapcast else { return Outputs(output: device, house: nil, local: true) }
        let house = try HouseSpeakers(snapcast, logger: logger)
        let beside = snapcast.local ? ", beside \(options.device)" : " (no local device)"
        let switching = snapcast.control.map { "; switching groups to \(snapcast.stream) through \($0.host):\($0.port)" } ?? ""
        logger.info("snapcast output: \(snapcast.source), heard \(snapcast.bufferMilliseconds) ms after it is sent\(beside)\(switching)")
        if snapcast.local {
            return Outputs(output: OutputGroup(primary: device, mirrors: [house.output]), house: house, local: true)
        }
        return Outputs(output: house.output, house: house, local: false)
    }
}

/// The Snapcast output and, when configured, the switching of groups to its stream while it plays.
///
/// Threading: Sendable; `info` from any task; `shutdown` once, after the player has stopped.
final class HouseSpeakers: Sendable {
    let output: SnapcastOutput
    let switcher: SnapcastGroupSwitcher?
    let options: SnapcastOptions

    init(_ options: SnapcastOptions, logger: Logger) throws {
        self.options = options
        var switcher: SnapcastGroupSwitcher?
        if let control = options.control {
            // Clients drop what they buffered when their group changes stream: the output's stream ends only once
            // the rooms have played its tail (snapserver's buffer after the last byte), and the give-back waits a
            // little more for a job coming right behind.
            let timing = SnapcastGroupSwitcher.Timing(restoreDelay: 0.3)
            let file = StateFile.directory().map { $0 + "/snapcast-groups.json" }
            switcher = try SnapcastGroupSwitcher(server: control, stream: options.stream, groups: options.groups,
                                                 stateFile: file, timing: timing,
                                                 log: { logger.notice("\($0)") })
            switcher?.restoreLeftovers()
        }
        self.switcher = switcher
        let hooks = SnapcastStreamHooks(
            started: { [switcher] in
                guard let switcher else { return }
                // The sender thread may wait: audio sent before the group has switched would be lost.
                switcher.announcementStarts()
                _ = switcher.waitUntilIdle(timeoutSeconds: 1)
            },
            ended: { [switcher] in switcher?.announcementEnds() })
        // A meta stream switching to the announcement drops about its buffer's worth of what comes first: silence
        // goes first then. Groups switched over JSON-RPC before the first byte lose nothing.
        let preroll = options.control == nil ? options.bufferMilliseconds + 100 : 0
        output = try SnapcastOutput(source: options.source, bufferMilliseconds: options.bufferMilliseconds,
                                    leadMilliseconds: options.leadMilliseconds, prerollMilliseconds: preroll, hooks: hooks,
                                    log: { logger.notice("\($0)") })
    }

    var info: SnapcastInfo {
        let status = output.status
        let rate = Double(options.source.format.sampleRate)
        return SnapcastInfo(source: "\(options.source)", connected: status.connected, streaming: status.streaming,
                            error: status.lastError, sentSeconds: Double(status.sentFrames) / rate,
                            droppedSeconds: Double(status.droppedFrames) / rate, reconnects: status.reconnects,
                            bufferMilliseconds: options.bufferMilliseconds, groupSwitchError: switcher?.lastError)
    }

    func shutdown() { output.shutdown() }
}
