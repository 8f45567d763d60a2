import Foundation
import XCTest

/// `make install` as a packager and as an administrator would run it. Builds release binaries in a build folder of
/// its own (.build-install), so it does not wait on the test run's lock on .build.
final class InstallTests: IntegrationTestCase {
    /// Two release builds from nothing on a clean clone take about 8 minutes on CI.
    override class var hangMinutes: Double { 25 }

    private func make(_ arguments: [String]) throws {
        let result = try Child("/usr/bin/make", ["-C", Harness.packageRoot.path, "SCRATCH=.build-install"] + arguments).finish()
        XCTAssertEqual(result.status, 0, "make \(arguments.joined(separator: " ")): \(result.stderr.suffix(3000))")
    }

    func testInstallLaysOutTheTreeAndWhatItInstallsRuns() throws {
        // As a packager: DESTDIR staging, PREFIX as the system will see it.
        let stage = directory.appendingPathComponent("stage")
        try make(["install", "DESTDIR=\(stage.path)", "PREFIX=/usr"])
        let expected = [
            "usr/bin/speakd", "usr/bin/speakctl",
            "usr/lib/systemd/user/speakd.socket", "usr/lib/systemd/user/speakd.service",
            "usr/lib/systemd/system/speakd.socket", "usr/lib/systemd/system/speakd.service",
            "usr/lib/sysusers.d/speakd.conf",
            "usr/share/man/man1/speakd.1", "usr/share/man/man1/speakctl.1",
            "usr/share/bash-completion/completions/speakctl", "usr/share/zsh/site-functions/_speakctl",
            "usr/share/fish/vendor_completions.d/speakctl.fish",
            "usr/share/doc/speakd/config.toml.example", "usr/share/doc/speakd/configuration.md",
            // Where Debian's speech-dispatcher looks for modules and their configuration.
            "usr/lib/speech-dispatcher-modules/sd_speakd", "etc/speech-dispatcher/modules/speakd.conf",
        ]
        for path in expected {
            XCTAssertTrue(FileManager.default.fileExists(atPath: stage.appendingPathComponent(path).path), "missing \(path)")
        }
        let service = try String(contentsOf: stage.appendingPathComponent("usr/lib/systemd/system/speakd.service"), encoding: .utf8)
        XCTAssertTrue(service.contains("ExecStart=/usr/bin/speakd "), "ExecStart names the installed path, not the stage")
        XCTAssertFalse(service.contains("@bindir@"))
        let manual = try String(contentsOf: stage.appendingPathComponent("usr/share/man/man1/speakctl.1"), encoding: .utf8)
        XCTAssertTrue(manual.contains("speakctl"), manual)

        // As an administrator: a real prefix, so the units point at binaries that exist and can be verified.
        let prefix = directory.appendingPathComponent("prefix")
        try make(["install", "PREFIX=\(prefix.path)"])
        for scope in ["system", "user"] {
            let units = ["speakd.socket", "speakd.service"].map { prefix.appendingPathComponent("lib/systemd/\(scope)/\($0)").path }
            let verify = try Child("/usr/bin/systemd-analyze", ["verify", "--man=no"] + units).finish()
            XCTAssertEqual(verify.status, 0, "systemd-analyze verify (\(scope)): \(verify.stderr)")
            XCTAssertEqual(verify.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "warnings for \(scope) units")
        }
        let version = try Child(prefix.appendingPathComponent("bin/speakd").path, ["--version"]).finish()
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0", version.stderr)
        let check = try Child(prefix.appendingPathComponent("bin/speakd").path,
                              ["--config", prefix.appendingPathComponent("share/doc/speakd/config.toml.example").path, "--check-config"]).finish()
        XCTAssertEqual(check.status, 0, check.stderr)

        // speakctl starts once per announcement: a static executable, with no dynamic loader to run (nor libasound).
        let speakctl = prefix.appendingPathComponent("bin/speakctl").path
        let speakctlVersion = try Child(speakctl, ["--version"]).finish()
        XCTAssertEqual(speakctlVersion.stdout, "0.1.0\n", speakctlVersion.stderr)
        let libraries = try Child("/usr/bin/ldd", [speakctl]).finish()
        XCTAssertTrue((libraries.stdout + libraries.stderr).contains("not a dynamic executable"), libraries.stdout)

        let module = try Child(prefix.appendingPathComponent("lib/speech-dispatcher-modules/sd_speakd").path, ["--version"]).finish()
        XCTAssertEqual(module.status, 0, module.stderr)
        XCTAssertTrue(module.stdout.hasPrefix("sd_speakd 0.1.0"), module.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: prefix.appendingPathComponent("etc/speech-dispatcher/modules/speakd.conf").path))

        try make(["uninstall", "PREFIX=\(prefix.path)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: prefix.appendingPathComponent("bin/speakd").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: prefix.appendingPathComponent("lib/systemd/user/speakd.socket").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: prefix.appendingPathComponent("lib/speech-dispatcher-modules/sd_speakd").path))
    }
}
