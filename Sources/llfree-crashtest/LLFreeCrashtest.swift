// llfree-crashtest: the crash tests of llfreed, as a tool a developer runs before trusting a
// change to the allocator or the pool.

import ArgumentParser

@main
struct LLFreeCrashtest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llfree-crashtest",
        abstract: "Crash tests for llfreed: a simulated power-fail domain (sim) and a process kill loop (kill).",
        subcommands: [SimCommand.self, KillCommand.self])
}
