// `llfree-crashtest sim`: runs the crash explorer over the real pool code on the simulated
// persistence domain and reports every violation with a command that replays it.

import ArgumentParser
import Foundation
import LLFreeSimulation

/// Progress goes to standard error, so that standard output holds only the report.
func progressLine(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Crash the pool at every persistence event on a simulated power-fail domain and check each recovery.",
        discussion: """
        Runs seeded workloads on a split pool (format version 3, with owners) in a simulated persistence domain: \
        three persistent owners and one ephemeral owner are created, then gets of every order and \
        kind for one of them, puts by the holder, huge-frame splits, multi-child runs, cross-core \
        frees, exhaustion, puts by the wrong owner (must be refused with notOwner and change \
        nothing) and compare-and-set of owners' roots. Crash images are taken at stores, flushes \
        and fences, during format and during recovery; each is opened with the real pool code, \
        settled, and checked by the oracle: acknowledged owners and root values survive (an \
        unacknowledged root: old or new); every allocated frame is listed by runs(of:) of exactly \
        one live persistent owner and held(by:) equals what is listed; every acknowledged get of a \
        persistent owner is still held by it, every get not acknowledged is free or its owner's, \
        every acknowledged put is free; ephemeral owners hold nothing. No data crosses owners: a \
        frame marked known zero reads zero, a frame held by one owner holds no other owner's \
        bytes, and a get on the recovered pool reads zeros. Leaked frames (allocated and \
        listed by no live persistent owner, or listed where the clients were told free) are \
        violations. Exit 0: no violation; 1: a violation (printed with a replay command). Last \
        lines: `leaked: N` (always 0 without a violation) and `crash images: N, violations: V`.

        --break removes a persistence step, to prove the oracle fails: flush (the first flush of \
        every operation), fence (the first fence of every operation), tag-flush (every flush of the \
        frame-tag and huge-tag areas), owner-flush (every flush of the owner table), owner-change-flush \
        (every flush of the owner table once the workload's owners exist: roots, quotas, temporary \
        owners), zero-flush (every flush of frame content that zeroing wrote), punch-sync (the \
        sync of a hole punched to reclaim a huge frame).
        """)

    @Option(help: "Seed of the workload, the crash images and the schedule; several seeds run one after another from it.")
    var seed: UInt64 = 1

    @Option(help: "Number of seeds to run (seed, seed+1, ...).")
    var seeds: Int = 1

    @Flag(help: "A bounded run for CI: fewer operations per seed.")
    var quick = false

    @Option(help: "Operations per seed (default 3000, 600 with --quick).")
    var operations: Int?

    @Option(help: "Simulated threads, interleaved at persistence events by a seeded scheduler.")
    var threads: Int = 1

    @Option(help: "Crash model: adr (only flushed+fenced lines are sure to survive), eadr or process.")
    var mode: String = "adr"

    @Option(name: .customLong("break"), help: "Remove a persistence step to prove the harness fails: flush, fence, tag-flush, owner-flush, owner-change-flush, zero-flush or punch-sync.")
    var broken: String?

    @Option(help: "Percent of steps that are the idle zeroer's (half reclaim a huge frame); the mix's own is 2.")
    var zeroShare = 2

    @Option(help: "Crash images per crash point (small windows are enumerated exhaustively).")
    var images: Int = 2

    @Option(help: "Replay one case: EVENT:IMAGE as printed by a failure.")
    var replay: String?

    @Option(help: "Run these steps instead of the seeded mix (as printed by a failure; one thread).")
    var script: String?

    @Option(help: "Seconds to spend shrinking a single-threaded failure to a short script.")
    var shrinkSeconds: Double = 20

    @Flag(help: "Keep going after a violation.")
    var keepGoing = false

    func run() throws {
        guard let crashMode = CrashMode(rawValue: mode) else { throw ValidationError("--mode must be adr, eadr or process") }
        var brokenStep: BrokenStep? = nil
        if let broken {
            guard let b = BrokenStep(rawValue: broken) else { throw ValidationError("--break must be \(BrokenStep.allCases.map(\.rawValue).joined(separator: ", "))") }
            brokenStep = b
        }
        var replayPoint: (Int, Int)? = nil
        if let replay {
            let parts = replay.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--replay takes EVENT:IMAGE") }
            replayPoint = (parts[0], parts[1])
        }
        guard threads >= 1, threads <= 16 else { throw ValidationError("--threads must be 1...16") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        var steps: [Step]? = nil
        if let script {
            guard let parsed = Step.script(script) else { throw ValidationError("--script holds a step that is not one (see the steps a failure prints)") }
            guard threads == 1 else { throw ValidationError("--script runs one thread") }
            steps = parsed
        }
        var total = 0, violations = 0, leaked = 0, leakedTotal = 0, unacknowledged = 0, recoveries = 0
        var wasted = (clean: 0, repeated: 0, empty: 0, flushes: 0, fences: 0)
        for s in 0..<UInt64(seeds) {
            var config = ExplorerConfig()
            config.seed = seed &+ s
            config.operations = operations ?? (quick ? 600 : 3000)
            config.threads = threads
            config.mode = crashMode
            config.broken = brokenStep
            config.imagesPerPoint = images
            config.replay = replayPoint
            config.stopAtFirst = !keepGoing
            config.script = steps
            config.shrinkSeconds = shrinkSeconds
            config.zeroShare = zeroShare
            let explorer: Explorer
            do {
                explorer = try Explorer(config: config)
            } catch {
                // A field out of range is a usage error (exit 64 with the usage), not a violation.
                switch error {
                case .invalidConfig: throw ValidationError("\(error)")
                case .pool(let pool): throw ValidationError("the simulated pool: \(pool)")
                }
            }
            let base = total
            explorer.progress = { r in
                progressLine("\rseed \(config.seed): \(r.crashPoints) crash points, \(base + r.images) crash images, \(r.failures.count) violations   ")
            }
            let result = explorer.run()
            progressLine("\n")
            total += result.images
            recoveries += result.recoveryCrashes
            leaked = max(leaked, result.maxLeaked)
            leakedTotal += result.leaked
            unacknowledged = max(unacknowledged, result.maxUnacknowledged)
            violations += result.failures.count
            wasted.clean += result.cleanFlushes
            wasted.repeated += result.repeatedFlushes
            wasted.empty += result.emptyFences
            wasted.flushes += result.flushes
            wasted.fences += result.fences
            for failure in result.failures { print(failure) }
            for d in result.disciplineViolations.prefix(5) { print("discipline: \(d)") }
            violations += result.disciplineViolations.count
            if violations > 0 && !keepGoing { break }
        }
        print("persistence work: \(wasted.flushes) flushes, \(wasted.fences) fences; wasted: \(wasted.clean) flushes of clean lines, \(wasted.repeated) lines flushed twice before a fence, \(wasted.empty) fences with nothing pending")
        print("recoveries crashed part way: \(recoveries), most frames a get in flight left to its owner: \(unacknowledged), most frames leaked by a crash: \(leaked)")
        print("leaked: \(leakedTotal)")
        print("crash images: \(total), violations: \(violations)")
        if violations > 0 { throw ExitCode(1) }
    }
}
