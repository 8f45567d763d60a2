#if canImport(Glibc)
import Glibc
#endif

/// How speech-dispatcher's -100 … 100 scales become speakd's job parameters.
///
/// Threading: stateless; call from any thread.
public enum SettingsMapping {
    /// Rate → `speed`: `2^(rate/50)`, so every 50 steps double or halve the speed and 0 is the voice's own pace:
    /// -100 → 0.25, -50 → 0.5, 0 → 1.0, 50 → 2.0, 100 → 4.0, exactly the contract's `speed` range. Exponential
    /// because speech rate is perceived in ratios: a linear map would spend half the slider on barely audible
    /// slowing. Screen-reader users tend to run at +30 … +60 (1.5 … 2.3×).
    public static func speed(forRate rate: Int) -> Double {
        let clamped = Double(min(max(rate, -100), 100))
        let speed = exp2(clamped / 50)
        return min(max(speed, 0.25), 4.0)
    }

    /// Volume → job gain, linear: -100 → 0.0 (silent), 0 → 1.0 (as synthesized), 100 → 2.0. speakd's `volume` is a
    /// linear sample gain in 0.0 … 2.0, and speech-dispatcher's scale is linear around its default 0, so the two
    /// line up without a curve.
    public static func gain(forVolume volume: Int) -> Double {
        Double(min(max(volume, -100), 100) + 100) / 100
    }
}
