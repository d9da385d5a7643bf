// llfree-ctl: the command-line tool for llfreed pools. This root only lists the verbs; each verb
// lives in its own file. Offline verbs work on the pool file; online verbs talk to a running llfreed.

import ArgumentParser

@main
struct LLFreeCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llfree-ctl",
        abstract: "Format, inspect and operate llfreed page-frame pools.",
        subcommands: offline + online
    )

    /// Verbs that work directly on a pool file (llfreed need not run).
    static var offline: [ParsableCommand.Type] {
        [FormatCommand.self, InfoCommand.self, CheckCommand.self]
    }

    /// Verbs that talk to a running llfreed; add them here.
    static var online: [ParsableCommand.Type] {
        [StatusCommand.self, GetCommand.self, PutCommand.self, StatsCommand.self, BenchCommand.self]
    }
}
