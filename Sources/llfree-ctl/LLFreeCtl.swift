// llfree-ctl: the command-line tool for llfreed pools. This root lists the verbs and takes the
// one option they share placed before the verb (`--socket`); each verb lives in its own file.
// Offline verbs work on the pool file; online verbs talk to a running llfreed.

import ArgumentParser

@main
struct LLFreeCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llfree-ctl",
        abstract: "Format, inspect and operate llfreed page-frame pools.",
        subcommands: offline + online
    )

    /// `llfree-ctl --socket PATH VERB`: the socket of the online verbs, as `git -C` goes before
    /// git's verb (a `--socket` after the verb wins; offline verbs ignore it).
    @Option(help: ArgumentHelp("llfreed's socket, for the online verbs; the offline verbs (format, info, check) ignore it (default $LLFREED_SOCKET, else the daemon's default for this user).",
                               valueName: "path"))
    var socket: String?

    /// Verbs that work directly on a pool file (llfreed need not run).
    static var offline: [ParsableCommand.Type] {
        [FormatCommand.self, InfoCommand.self, CheckCommand.self]
    }

    /// Verbs that talk to a running llfreed; add them here.
    static var online: [ParsableCommand.Type] {
        [StatusCommand.self, GetCommand.self, PutCommand.self, StatsCommand.self, OwnersCommand.self, OwnerCommand.self, FramesCommand.self,
         BenchCommand.self, ClientsBenchCommand.self]
    }
}
