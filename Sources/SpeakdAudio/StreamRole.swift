#if canImport(Glibc)
import Glibc
#endif

/// The playback stream's `media.role`, which the sound server's ducking policy follows (PulseAudio's
/// `module-role-ducking`, WirePlumber's role-based policy): music is lowered while a stream of a trigger role plays.
///
/// ALSA's pulse plugin has no option for stream properties: libpulse reads them from `PULSE_PROP` when the plugin
/// connects (each open), PipeWire's ALSA plugin from `PIPEWIRE_PROPS`. So the audio thread sets them before each
/// open. That is safe here because both variables exist from `prepare` on (before any thread): glibc's setenv then
/// replaces one pointer in `environ` and never frees the strings it made, so a thread reading the environment at
/// the same moment sees the old value or the new one, both valid. A role the user set in `PULSE_PROP` is kept.
///
/// Threading: `prepare` once at start-up, before the daemon serves (no thread reads the environment then) and before
/// the player exists; `declare` on the audio thread only.
public enum StreamRole {
    nonisolated(unsafe) private static var values: [String: (pulse: String, pipewire: String)] = [:]
    nonisolated(unsafe) private static var declared: String?
    nonisolated(unsafe) private static var userChoseRole = false

    /// A role may be one word: libpulse's property list is `key=value key=value`, PipeWire's SPA JSON.
    public static func isValid(_ role: String) -> Bool {
        role.count <= 64 && role.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    /// Computes each role's variables and declares `initial`. Roles that are not one word are left out.
    public static func prepare(_ roles: [String], initial: String) {
        let base = getenv("PULSE_PROP").map { String(cString: $0) } ?? ""
        userChoseRole = base.contains("media.role")
        for role in Set(roles + [initial, ""]) where role.isEmpty || isValid(role) {
            let pulse = role.isEmpty ? base : (base.isEmpty ? "media.role=\(role)" : "\(base) media.role=\(role)")
            values[role] = (pulse, role.isEmpty ? "{ }" : "{ media.role = \"\(role)\" }")
        }
        if userChoseRole {
            if getenv("PIPEWIRE_PROPS") == nil { setenv("PIPEWIRE_PROPS", "{ }", 1) }
            return
        }
        setenv("PULSE_PROP", values[""]?.pulse ?? base, 1)
        setenv("PIPEWIRE_PROPS", "{ }", 1)
        declare(isValid(initial) ? initial : "")
    }

    /// Makes the next stream opened carry `role` (a role not prepared is none).
    static func declare(_ role: String) {
        guard !userChoseRole, role != declared, !values.isEmpty else { return }
        let chosen = values[role] ?? values[""]
        guard let chosen else { return }
        setenv("PULSE_PROP", chosen.pulse, 1)
        setenv("PIPEWIRE_PROPS", chosen.pipewire, 1)
        declared = role
    }
}
