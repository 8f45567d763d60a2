// swift-tools-version:6.0
// speakd: a text-to-speech playback daemon. The target graph mirrors the pipeline:
// SpeakdProtocol (wire) ← SpeakdClient (speakctl) ; SpeakdSynthesis → SpeakdAudio → ALSA, all driven by SpeakdDaemon.
import PackageDescription

let package = Package(
    name: "speakd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "speakd", targets: ["speakd"]),
        .executable(name: "speakctl", targets: ["speakctl"]),
        .executable(name: "speakd-encode", targets: ["speakd-encode"]),
        .library(name: "SpeakdEncoding", targets: ["SpeakdEncoding"]),
        .executable(name: "sd_speakd", targets: ["sd_speakd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // One system-library target per C library; each module map names only the headers it needs.
        .systemLibrary(name: "CAlsa", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CSonic", providers: [.apt(["libsonic-dev"])]),   // Debian ships no sonic.pc
        // C shims for what Swift cannot import: variadic callbacks and macros.
        .target(name: "CSpeakdShim", dependencies: ["CAlsa"]),
        // The archive encoders' C libraries. Only SpeakdEncoding links them, never the audio path.
        .systemLibrary(name: "CLame", providers: [.apt(["libmp3lame-dev"])]),   // Debian ships no lame.pc
        .systemLibrary(name: "COpus", pkgConfig: "libopusenc", providers: [.apt(["libopusenc-dev", "libopus-dev"])]),
        .systemLibrary(name: "CFLAC", pkgConfig: "flac", providers: [.apt(["libflac-dev"])]),
        // The upstream decoders' C libraries (libFLAC and libopus are shared with the encoders above).
        .systemLibrary(name: "CMPG123", pkgConfig: "libmpg123", providers: [.apt(["libmpg123-dev"])]),
        .systemLibrary(name: "COgg", pkgConfig: "ogg", providers: [.apt(["libogg-dev"])]),
        // C shims for the encoders (variadic ope_encoder_ctl and its request macros).
        .target(name: "CSpeakdEncoderShim", dependencies: ["COpus"]),

        // Wire protocol shared by daemon and clients; FoundationEssentials only, so clients start fast.
        .target(name: "SpeakdProtocol"),
        // A blocking Unix-socket client with no NIO, used by speakctl (runs once per announcement).
        .target(name: "SpeakdClient", dependencies: ["SpeakdProtocol"]),
        // PCM format, the lock-free ring, the audio thread and ALSA output.
        .target(name: "SpeakdAudio", dependencies: ["CAlsa", "CSpeakdShim"]),
        // Sentence segmentation, shared by the daemon (upstream requests) and speakctl (--follow); pure Swift.
        .target(name: "SpeakdText", dependencies: ["SpeakdProtocol"]),
        // Upstream answers to s16: raw PCM in any byte order, WAV, MP3, Ogg Opus, FLAC, streaming; no NIO.
        .target(name: "SpeakdDecoding", dependencies: ["SpeakdAudio", "CMPG123", "COgg", "COpus", "CFLAC"]),
        // Post-processing between synthesis and the ring: the filter interface and its filters (time-stretching over
        // libsonic). No NIO: it runs wherever the audio is produced. PCMFormat comes from SpeakdAudio until a core
        // module holds it.
        .target(name: "SpeakdProcessing", dependencies: ["SpeakdAudio", "CSonic"]),
        // OpenAI-compatible streaming client, embedded espeak-ng engine.
        .target(name: "SpeakdSynthesis", dependencies: [
            "SpeakdProtocol", "SpeakdText", "SpeakdAudio", "SpeakdDecoding", "SpeakdProcessing", "CEspeakNG",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Archive encoders (mp3, opus, flac, wav), their tags, sinks and the atomic file writer.
        // Where encoded bytes go (sinks, atomic files) and format names: pure Swift, so speakctl's --save links it
        // without the encoders' C libraries or ALSA (each shared library costs process start-up time).
        .target(name: "SpeakdSinks"),
        .target(name: "SpeakdEncoding", dependencies: ["SpeakdSinks", "SpeakdAudio", "CLame", "COpus", "CFLAC", "CSpeakdEncoderShim"]),
        // The phrase cache: synthesized segments stored as FLAC, content-addressed, LRU-bounded; beside the pipeline.
        .target(name: "SpeakdCache", dependencies: [
            "SpeakdSynthesis", "SpeakdEncoding", "SpeakdAudio",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The daemon: socket server, job runner, configuration.
        .target(name: "SpeakdDaemon", dependencies: [
            "SpeakdProtocol", "SpeakdText", "SpeakdSynthesis", "SpeakdAudio", "SpeakdEncoding", "SpeakdCache",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "speakd", dependencies: [
            "SpeakdDaemon", "SpeakdEncoding",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // speech-dispatcher output module: protocol, SSML marks, settings and the message state machine, testable
        // without processes; sd_speakd is the thin executable over it (FoundationEssentials only: it starts per session).
        .target(name: "SpeechDispatcherModule", dependencies: ["SpeakdProtocol", "SpeakdClient"]),
        .executableTarget(name: "sd_speakd", dependencies: ["SpeechDispatcherModule"]),
        // SpeakdSinks for AtomicFile and ArchiveFormat (--save): the daemon encodes, speakctl writes.
        // Release: a static executable (no dynamic loader, no relocations of the Swift runtime and libstdc++ at
        // each start: ~2 M instructions of a `speakctl stop`); scripts/bench-control measures it.
        .executableTarget(name: "speakctl", dependencies: [
            "SpeakdClient", "SpeakdProtocol", "SpeakdText", "SpeakdSinks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux], configuration: .release))]),

        // A thin CLI over SpeakdEncoding: raw s16le in, an archive file out (also what scripts/bench-encode times).
        .executableTarget(name: "speakd-encode", dependencies: [
            "SpeakdEncoding", "SpeakdAudio",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers shared by the suites (child processes without Foundation's Process); no XCTest inside.
        .target(name: "SpeakdTestSupport", path: "Tests/SpeakdTestSupport"),
        .testTarget(name: "SpeakdEncodingTests", dependencies: ["SpeakdEncoding", "SpeakdSinks", "SpeakdAudio", "speakd-encode",
                                                               "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdAudioTests", dependencies: ["SpeakdAudio"]),
        .testTarget(name: "SpeakdDecodingTests", dependencies: ["SpeakdDecoding", "SpeakdAudio", "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdCacheTests", dependencies: ["SpeakdCache", "SpeakdSynthesis", "SpeakdEncoding", "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdProtocolTests", dependencies: ["SpeakdProtocol"]),
        .testTarget(name: "SpeakdSynthesisTests", dependencies: ["SpeakdSynthesis", "SpeakdText", "SpeakdProcessing"]),
        .testTarget(name: "SpeakdProcessingTests", dependencies: ["SpeakdProcessing", "SpeakdAudio"]),
        .testTarget(name: "SpeakdTextTests", dependencies: ["SpeakdText"]),
        .testTarget(name: "SpeakdDaemonTests", dependencies: ["SpeakdDaemon", "SpeakdProtocol"]),
        .testTarget(name: "SpeakctlTests", dependencies: ["speakctl"]),
        .testTarget(name: "SpeechDispatcherModuleTests", dependencies: ["SpeechDispatcherModule", "SpeakdProtocol"]),
        .testTarget(name: "SpeakdIntegrationTests", dependencies: ["SpeakdProtocol", "SpeakdClient", "speakd", "speakctl", "sd_speakd",
                                                                   "SpeakdTestSupport"],
                    exclude: ["mock_upstream.py"]),
    ],
    swiftLanguageModes: [.v6]
)
