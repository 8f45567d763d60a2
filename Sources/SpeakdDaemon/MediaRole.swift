#if canImport(Glibc)
import Glibc
#endif

/// The playback stream's `media.role`, which the sound server's ducking policy follows (PulseAudio's
/// `module-role-ducking`, WirePlumber's role-based policy): music is lowered while a stream of a trigger role plays.
///
/// ALSA's pulse plugin has no option for stream properties: libpulse reads them from `PULSE_PROP` when the plugin
/// connects, and PipeWire's ALSA plugin from `PIPEWIRE_PROPS`. So the role is one per process, declared in the
/// environment before the audio thread exists (setenv is not safe beside threads that read the environment).
///
/// Threading: call once at start-up, before any thread that opens the device.
enum MediaRole {
    static func declare(_ role: String) {
        // One word (libpulse's property list is "key=value key=value"; PipeWire's is SPA JSON).
        guard !role.isEmpty, role.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else { return }
        // A role the user set in the environment wins over the configuration.
        let pulse = getenv("PULSE_PROP").map { String(cString: $0) } ?? ""
        if !pulse.contains("media.role") {
            setenv("PULSE_PROP", pulse.isEmpty ? "media.role=\(role)" : "\(pulse) media.role=\(role)", 1)
        }
        if getenv("PIPEWIRE_PROPS") == nil {
            setenv("PIPEWIRE_PROPS", "{ media.role = \"\(role)\" }", 1)
        }
    }
}
