// speakctl runs once per announcement: its start-up is part of the time to first sound. The common invocations
// skip ArgumentParser (see QuickInvocation); all others, and every error, go through it.
if let quick = QuickInvocation(arguments: CommandLine.arguments.dropFirst()) {
    quick.run()
} else {
    Speakctl.main()
}
