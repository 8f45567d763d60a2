#if canImport(Glibc)
import Glibc
#endif

/// `speakctl --help` as ArgumentParser prints it at 80 columns, for the quick path (`QuickInvocation`), which
/// must not load ArgumentParser to print it. Generated, not written: `QuickInvocationTests` compares it with
/// `Speakctl.helpMessage(columns: 80)` and prints the text to paste here when the interface changes.
///
/// Threading: constants and a pure function.
enum SpeakctlHelp {
    static let text = #"""
        OVERVIEW: Speak text through speakd, and control it.

        speakctl "Hello there"        speak the words given
        echo "Hello" | speakctl       speak standard input
        speakctl --wait "Done."       return once it has been heard (non-zero if it
        failed)
        llm "…" | speakctl --follow   speak each sentence as soon as it is complete
        speakctl --interrupt "Now."   cut what is speaking and say this next
        speakctl --priority important --ttl 60 "Doorbell"
        speakctl stop                 silence now and clear the queue
        speakctl pause | resume       hold and continue at the exact sample
        speakctl watch                print every job's events as they happen
        speakctl cache warm FILE      pre-synthesize FILE's lines so they play at once,
        even offline
        speakctl upstream check       probe the upstream server and show how to
        configure it
        To speak a word that is also a command, use `speakctl say stop`.

        USAGE: speakctl <subcommand>

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.

        SUBCOMMANDS:
          say (default)           Speak TEXT, or standard input when no TEXT is given
                                  (the default command).
          stop                    Silence speech now and clear the queue.
          cancel                  Cancel one job (its id is printed by `speakctl -v`
                                  and `speakctl list`).
          skip                    Cancel the job being heard; the next one follows.
          pause                   Hold speech at the current sample (jobs keep
                                  queueing).
          resume                  Continue exactly where speech was paused.
          list                    List the jobs not finished yet, in the order they
                                  will be heard.
          status                  Show what speakd is doing.
          watch                   Print every job's events as they happen, until
                                  interrupted.
          cache                   Show, clear or warm speakd's phrase cache (repeated
                                  phrases play at once, online or offline).
          upstream                Check an upstream speech server and show how to
                                  configure it.

          See 'speakctl help <subcommand>' for detailed help.

        """#

    /// The width ArgumentParser would wrap to is at least the snapshot's: `COLUMNS`, else the terminal's, else 80.
    /// (A narrower terminal gets ArgumentParser's own wrapping; a wider one the 80-column text.)
    static func fitsTerminal() -> Bool {
        if let columns = getenv("COLUMNS").flatMap({ Int(String(cString: $0)) }) { return columns >= 80 }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return true }
        return size.ws_col >= 80
    }
}
