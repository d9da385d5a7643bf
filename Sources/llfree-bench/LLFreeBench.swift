// Entry point of llfree-bench: the paper's benchmarks (the default), the pool's recovery and
// persistence benchmarks and the daemon's request path in process as subcommands.

import ArgumentParser

/// `llfree-bench`: benchmarks of the LLFree allocator core and of llfreed's pool.
@main
struct LLFreeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llfree-bench",
        abstract: "Benchmarks of LLFree and llfreed. Run the release build.",
        subcommands: [PaperCommand.self, RecoveryCommand.self, PersistentCommand.self, RequestPathCommand.self, BatchCommand.self, ZeroCommand.self],
        defaultSubcommand: PaperCommand.self)
}
