// swift-tools-version:6.0
// speakd: a text-to-speech playback daemon. The target graph mirrors the pipeline:
// SpeakdProtocol (wire) ← SpeakdClient (speakctl) ; SpeakdSynthesis → SpeakdProcessing → SpeakdAudio → ALSA, all driven
// by SpeakdDaemon; SpeakdCore (formats, chunks) under every stage.
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
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Front doors beyond the Unix socket (issue 19): HTTP API, Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // One system-library target per C library; each module map names only the headers it needs.
        .systemLibrary(name: "CAlsa", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CSonic", providers: [.apt(["libsonic-dev"])]),   // Debian ships no sonic.pc
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CEbur128", pkgConfig: "libebur128", providers: [.apt(["libebur128-dev"])]),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        // C shims for what Swift cannot import: variadic callbacks and macros.
        .target(name: "CSpeakdShim", dependencies: ["CAlsa"]),
        // The archive encoders' C libraries. Only SpeakdEncoding links them, never the audio path.
        .systemLibrary(name: "CLame", providers: [.apt(["libmp3lame-dev"])]),   // Debian ships no lame.pc
        .systemLibrary(name: "COpus", pkgConfig: "libopusenc", providers: [.apt(["libopusenc-dev", "libopus-dev"])]),
        .systemLibrary(name: "CFLAC", pkgConfig: "flac", providers: [.apt(["libflac-dev"])]),
        // The upstream decoders' C libraries (libFLAC and libopus are shared with the encoders above).
        .systemLibrary(name: "CMPG123", pkgConfig: "libmpg123", providers: [.apt(["libmpg123-dev"])]),
        .systemLibrary(name: "COgg", pkgConfig: "ogg", providers: [.apt(["libogg-dev"])]),
        // The MQTT front door's C client (Debian ships libmosquitto.pc).
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // C shims for the encoders (variadic ope_encoder_ctl and its request macros).
        .target(name: "CSpeakdEncoderShim", dependencies: ["COpus"]),

        // The one system-call layer: swift-system's FileDescriptor and Errno, and a wrapper for sockets, poll and
        // threads (EINTR retried, errno read once, EBADF/EFAULT are bugs). Its own small target at the bottom of the
        // graph, not in a pipeline module, so the clients (speakctl, sd_speakd) share it without linking audio code.
        .target(name: "SpeakdSystem", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        // Wire protocol shared by daemon and clients; FoundationEssentials only, so clients start fast.
        .target(name: "SpeakdProtocol"),
        // A blocking Unix-socket client with no NIO, used by speakctl (runs once per announcement).
        .target(name: "SpeakdClient", dependencies: ["SpeakdProtocol", "SpeakdSystem"]),
        // What every stage shares (PCM format, audio chunks, word positions): pure Swift, no C, no NIO, so a module
        // that needs a format does not link the output's libraries.
        .target(name: "SpeakdCore"),
        // The lock-free ring, the audio thread and the outputs (ALSA, null, test).
        .target(name: "SpeakdAudio", dependencies: ["SpeakdCore", "CAlsa", "CSpeakdShim"]),
        // Sentence segmentation, shared by the daemon (upstream requests) and speakctl (--follow); pure Swift.
        .target(name: "SpeakdText", dependencies: ["SpeakdProtocol"]),
        // Upstream answers to s16: raw PCM in any byte order, WAV, MP3, Ogg Opus, FLAC, streaming; no NIO.
        .target(name: "SpeakdDecoding", dependencies: ["SpeakdCore", "CMPG123", "COgg", "COpus", "CFLAC", "CSndfile"]),
        // Post-processing between synthesis and the ring: the filter interface, the chain and its filters (gain,
        // time-stretching over libsonic, resampling over libsoxr, channel mapping, loudness over libebur128). No NIO:
        // it runs wherever the audio is produced, never on the audio thread.
        .target(name: "SpeakdProcessing", dependencies: ["SpeakdCore", "CSonic", "CSoxr", "CEbur128"]),
        // The Snapcast output (a snapserver TCP or pipe source, paced by the wall clock on its own thread) and the
        // optional group switching over snapserver's JSON-RPC. No NIO: plain sockets on plain threads.
        .target(name: "SpeakdSnapcast", dependencies: ["SpeakdCore", "SpeakdAudio", "SpeakdProcessing", "SpeakdSystem"]),
        // OpenAI-compatible streaming client, embedded espeak-ng engine.
        .target(name: "SpeakdSynthesis", dependencies: [
            "SpeakdProtocol", "SpeakdText", "SpeakdCore", "SpeakdDecoding", "SpeakdProcessing", "CEspeakNG",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),   // retries and upstream errors by kind
        ]),
        // Archive encoders (mp3, opus, flac, wav), their tags, sinks and the atomic file writer.
        // Where encoded bytes go (sinks, atomic files) and format names: pure Swift, so speakctl's --save links it
        // without the encoders' C libraries or ALSA (each shared library costs process start-up time).
        .target(name: "SpeakdSinks", dependencies: ["SpeakdSystem"]),
        .target(name: "SpeakdEncoding", dependencies: ["SpeakdSinks", "SpeakdCore", "CLame", "COpus", "CFLAC", "CSpeakdEncoderShim"]),
        // The phrase cache: synthesized segments stored as FLAC, content-addressed, LRU-bounded; beside the pipeline.
        .target(name: "SpeakdCache", dependencies: [
            "SpeakdSynthesis", "SpeakdEncoding", "SpeakdCore", "SpeakdSystem",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Metrics in Prometheus' text format: swift-metrics names, swift-prometheus' registry, job events → counters.
        .target(name: "SpeakdMetrics", dependencies: [
            "SpeakdProtocol",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Front doors beside the Unix socket; both hand requests to the daemon's own handler (FrontDoorBackend).
        .target(name: "SpeakdHTTP", dependencies: [
            "SpeakdProtocol",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SpeakdMQTT", dependencies: ["SpeakdProtocol", "CMosquitto", .product(name: "Logging", package: "swift-log")]),
        // The daemon: socket server, job runner, configuration.
        .target(name: "SpeakdDaemon", dependencies: [
            "SpeakdProtocol", "SpeakdText", "SpeakdSynthesis", "SpeakdCore", "SpeakdAudio", "SpeakdProcessing", "SpeakdEncoding",
            "SpeakdCache", "SpeakdSystem", "SpeakdMetrics", "SpeakdHTTP", "SpeakdMQTT", "SpeakdDecoding", "SpeakdSnapcast",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
        .target(name: "SpeechDispatcherModule", dependencies: ["SpeakdProtocol", "SpeakdClient", "SpeakdSystem"]),
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
            "SpeakdEncoding", "SpeakdCore", "SpeakdSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers shared by the suites (child processes without Foundation's Process); no XCTest inside.
        .target(name: "SpeakdTestSupport", dependencies: ["SpeakdSnapcast"], path: "Tests/SpeakdTestSupport"),
        .testTarget(name: "SpeakdEncodingTests", dependencies: ["SpeakdEncoding", "SpeakdSinks", "SpeakdCore", "speakd-encode",
                                                               "SpeakdTestSupport"]),
        // Counts allocations on the audio thread in-process (defines malloc for the test executable).
        .target(name: "CAllocationProbe", path: "Tests/CAllocationProbe"),
        .testTarget(name: "SpeakdAudioTests", dependencies: ["SpeakdAudio", "SpeakdCore", "CAllocationProbe", "SpeakdSnapcast"]),
        .testTarget(name: "SpeakdDecodingTests", dependencies: ["SpeakdDecoding", "SpeakdCore", "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdCacheTests", dependencies: ["SpeakdCache", "SpeakdSynthesis", "SpeakdEncoding", "SpeakdCore", "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdProtocolTests", dependencies: ["SpeakdProtocol"]),
        .testTarget(name: "SpeakdSystemTests", dependencies: ["SpeakdSystem"]),
        .testTarget(name: "SpeakdSynthesisTests", dependencies: ["SpeakdSynthesis", "SpeakdText", "SpeakdProcessing", "SpeakdCore"]),
        .testTarget(name: "SpeakdProcessingTests", dependencies: ["SpeakdProcessing", "SpeakdCore"]),
        .testTarget(name: "SpeakdTextTests", dependencies: ["SpeakdText"]),
        .testTarget(name: "SpeakdSnapcastTests", dependencies: ["SpeakdSnapcast", "SpeakdAudio", "SpeakdCore", "SpeakdTestSupport"]),
        .testTarget(name: "SpeakdDaemonTests", dependencies: ["SpeakdDaemon", "SpeakdProtocol", "SpeakdSynthesis", "SpeakdCore", "SpeakdProcessing",
                                                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SpeakdFrontDoorTests", dependencies: ["SpeakdHTTP", "SpeakdMetrics", "SpeakdMQTT", "SpeakdProtocol"]),
        .testTarget(name: "SpeakctlTests", dependencies: ["speakctl"]),
        .testTarget(name: "SpeechDispatcherModuleTests", dependencies: ["SpeechDispatcherModule", "SpeakdProtocol"]),
        .testTarget(name: "SpeakdIntegrationTests", dependencies: ["SpeakdProtocol", "SpeakdClient", "speakd", "speakctl", "sd_speakd",
                                                                   "SpeakdTestSupport", "SpeakdSnapcast"],
                    exclude: ["mock_upstream.py"]),
    ],
    swiftLanguageModes: [.v6]
)
