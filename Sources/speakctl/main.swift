// speakctl runs once per announcement and per control: its start-up is part of the time to first sound and to
// silence. The common invocations, `--version` and `--help` skip ArgumentParser (see QuickInvocation); all others,
// and every error, go through it.
if let quick = QuickInvocation(arguments: CommandLine.arguments.dropFirst()) {
    quick.run()
} else {
    Speakctl.main()
}
