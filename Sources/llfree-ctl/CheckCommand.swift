// `llfree-ctl check POOL`: validates the header and every child counter against its bitfield,
// read-only. Exit 0 consistent, 1 inconsistent (with a report), 2 not a usable pool.

import ArgumentParser
import LLFreePool

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a pool's header and metadata (read-only).",
        discussion: "Exit status: 0 consistent, 1 inconsistent (the problems are listed), 2 not a usable pool (or in use)."
    )

    @Argument(help: "The pool file.")
    var pool: String

    @Option(help: "Problems to list at most.")
    var limit = 100

    func run() throws {
        let inspection: PoolInspection
        do {
            inspection = try Pool.inspect(path: pool, requireIdle: true)
        } catch {
            printError("llfree-ctl check: \(error)")
            throw ExitCode(2)
        }
        let h = inspection.header
        let dirtyNote = h.state.clean ? "" : "; the pool is dirty (not closed cleanly): the next open runs recovery, which recomputes counters"
        if inspection.consistent {
            print("\(pool): consistent: \(h.frames) frames, \(inspection.freeFrames) free, \(inspection.freeHugeFrames) free huge, state \(h.state)\(dirtyNote)")
            return
        }
        print("\(pool): inconsistent: \(inspection.problems.count) problems, state \(h.state)\(dirtyNote)")
        for problem in inspection.problems.prefix(max(limit, 0)) { print("  \(problem)") }
        if inspection.problems.count > limit { print("  ... and \(inspection.problems.count - limit) more") }
        throw ExitCode(1)
    }
}
