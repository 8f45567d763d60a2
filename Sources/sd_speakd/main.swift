// sd_speakd: speech-dispatcher output module that speaks through a running speakd.
// speech-dispatcher starts it as `sd_speakd CONFIGFILE` and talks to it on stdin/stdout; stderr is its log.
import SpeakdProtocol
import SpeechDispatcherModule
#if canImport(Glibc)
import Glibc
#endif

// A closed stdout (speech-dispatcher gone) must end in a failed write, not in SIGPIPE.
signal(SIGPIPE, SIG_IGN)

let arguments = CommandLine.arguments
if arguments.count > 1, arguments[1] == "--version" || arguments[1] == "--help" {
    print("sd_speakd \(speakdVersion): speech-dispatcher output module for speakd. Started by speech-dispatcher as `sd_speakd CONFIGFILE`.")
    exit(0)
}

var warnings: [String] = []
let configuration = ModuleConfiguration.load(path: arguments.count > 1 ? arguments[1] : nil, warnings: &warnings)
for warning in warnings {
    let line = "sd_speakd: \(arguments[1]): \(warning)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
let socketPath = SocketPath.resolve(explicit: configuration.socketPath, environment: processEnvironment())
exit(ModuleRunner(configuration: configuration, socketPath: socketPath).run())
