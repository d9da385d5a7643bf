// `llfree-crashtest kill --cycles N --clients K`: the process-level crash test. Starts the real
// llfreed on a pool, lets K clients, each attached to its own owner ("kill-client-N"; the last
// one ephemeral when K > 1), get and put random orders while keeping a ledger of every
// acknowledged run per owner and of the requests in flight, SIGKILLs the daemon at a random
// moment, restarts it (recovery runs), and checks each owner's list of runs against the ledger
// and every allocated frame of the recovered pool against the owners' lists. A get in flight at
// the kill that was served shows up in its owner's list and is adopted (reconciliation), so the
// check is exact: no frame may leak.
//
// A SIGKILL tests the daemon's recovery of a pool it left dirty, not power-fail durability:
// stores to a MAP_SHARED mapping are in the page cache and survive the death of the process
// whether or not they were flushed. Lost flushes and fences are what `llfree-crashtest sim`
// tests, on a simulated persistence domain.

import ArgumentParser
import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeSimulation

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Kill llfreed at random moments under load and check what clients were told against the recovered pool.",
        discussion: """
            Client N attaches to owner 'kill-client-N' (the last client's owner is ephemeral when \
            there are two or more clients). After each kill and restart, for each persistent owner: \
            every run it was told it holds is in its list of runs; every listed run is held, or from \
            a put in flight at the kill (not served: held again), or from its get in flight at the \
            kill (served: adopted, which is the reconciliation a real client does); no run whose put \
            was acknowledged is listed. Ephemeral owners list nothing after the restart. Every \
            allocated frame of the pool (scanned frame by frame) is listed by exactly one owner, and \
            every listed frame is allocated: leaked = allocated frames no owner lists, plus listed \
            frames the ledger cannot account for, and must be 0. No get may hand out a held frame; \
            a put of held runs may not be refused; the recovered counters must match the bitfields.

            --break skip-reconcile drops the adoption step: the runs of gets served at a kill are \
            then unaccounted for and counted as leaked, and the run must fail. A get served at the very \
            moment of a kill is rare (a few cycles in a hundred), so give it many short cycles: \
            'kill --cycles 100 --max-run-milliseconds 30 --break skip-reconcile'.

            SIGKILL cannot test power-fail durability: stores to the daemon's MAP_SHARED mapping \
            survive the death of the process even if they were never flushed, so a missing flush or \
            fence goes unnoticed here. That is what 'llfree-crashtest sim' tests, on a simulated \
            persistence domain that drops what was not flushed.

            Last lines: the totals (runs adopted, frames checked), then \
            'cycles: N, violations: V, leaked: L'. Exits 1 if there was any violation or any leak.
            """)

    @Option(help: "Kill and restart cycles.")
    var cycles = 20

    @Option(help: "Client threads, each with its own connection.")
    var clients = 4

    @Option(help: "Largest order the clients ask for.")
    var maxOrder = 9

    @Option(help: "Pool size.")
    var size = "64M"

    @Option(help: "Longest run of load before a kill, in milliseconds.")
    var maxRunMilliseconds = 400

    @Option(help: "Durability of the daemon: cpu-cache (default) or msync.")
    var durability = "cpu-cache"

    @Option(help: "Working directory for the pool, socket and logs (default: a new temporary directory, removed afterwards).")
    var directory: String?

    @Option(help: "The llfreed binary (default: next to this executable).")
    var daemon: String?

    @Option(help: "Random seed (default: random).")
    var seed: UInt64?

    @Option(name: .customLong("break"), help: "Drop a step of the check to prove it fails: skip-reconcile (do not adopt the runs of gets in flight at a kill).")
    var broken: String?

    func run() throws {
        guard cycles >= 1, clients >= 1, maxOrder >= 0, maxOrder <= 14 else { throw ValidationError("cycles and clients must be positive, max order 0...14") }
        if let broken, broken != "skip-reconcile" { throw ValidationError("--break must be skip-reconcile") }
        let seed = self.seed ?? UInt64.random(in: 1...UInt64.max)
        var random = SeededRandom(seed: seed)
        let ownDirectory = directory == nil
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("llfree-kill-\(seed)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if ownDirectory { try? FileManager.default.removeItem(atPath: dir) } }
        let binary = daemon ?? Self.sibling("llfreed")
        let pool = dir + "/kill.pool", socket = dir + "/llfreed.sock", logPath = dir + "/llfreed.log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw ValidationError("cannot create the daemon log \(logPath)")
        }
        print("kill loop: \(cycles) cycles, \(clients) clients, orders 0...\(maxOrder), seed \(seed), daemon \(binary), log \(logPath)")

        let ledger = KillLedger(owners: (0..<clients).map { i in
            ("kill-client-\(i)", clients > 1 && i == clients - 1 ? WireOwnerKind.ephemeral : .persistent)
        })
        var totals = KillLedger.CheckResult()
        var leaked = 0
        var process = try start(binary, pool: pool, socket: socket, log: logPath)
        for cycle in 1...cycles {
            let stopFlag = StopFlag()
            let threads = (0..<clients).map { i in
                Thread { [maxOrder] in
                    Self.load(socket: socket, owner: i, ledger: ledger, stop: stopFlag, maxOrder: maxOrder, seed: seed &+ UInt64(cycle * 1000 + i))
                }
            }
            for thread in threads { thread.start() }
            Thread.sleep(forTimeInterval: Double(Int.random(in: 20...max(20, maxRunMilliseconds), using: &random)) / 1000)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            stopFlag.stop()
            for thread in threads { while !thread.isFinished { Thread.sleep(forTimeInterval: 0.005) } }

            process = try start(binary, pool: pool, socket: socket, log: logPath)
            let checker = BlockingLLFreeClient(socketPath: socket)
            defer { checker.close() }
            let inFlight = ledger.getsInFlight
            let result = try check(cycle: cycle, checker: checker, ledger: ledger)
            totals.adopted += result.adopted
            totals.putsNotServed += result.putsNotServed
            totals.allocated += result.allocated
            leaked = result.leaked
            totals.leaked += result.leaked
            print("cycle \(cycle): \(result.allocated) frames allocated, held \(ledger.heldFrames), in gets in flight at kill \(inFlight), runs adopted \(result.adopted), puts not served \(result.putsNotServed), leaked \(result.leaked), violations so far \(ledger.violations.count)")
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        if process.terminationStatus != 0 { ledger.violation("llfreed exited \(process.terminationStatus) on SIGTERM") }
        for line in ledger.violations.prefix(20) { print("violation: \(line)") }
        print("frames checked: \(totals.allocated) allocated frames over \(cycles) restarts, runs adopted: \(totals.adopted), puts in flight not served: \(totals.putsNotServed), leaked over all cycles: \(totals.leaked)")
        print("cycles: \(cycles), violations: \(ledger.violations.count), leaked: \(leaked)")
        if !ledger.violations.isEmpty || totals.leaked > 0 { throw ExitCode(1) }
    }

    /// Lists every owner's runs and scans every frame of the recovered pool, and checks them
    /// against the ledger. No client may run meanwhile.
    private func check(cycle: Int, checker: BlockingLLFreeClient, ledger: KillLedger) throws -> KillLedger.CheckResult {
        let names = ledger.ownerNames
        var listed = [[WireRun]?]()
        for name in names { listed.append(try Self.runsIfOwnerExists(name, using: checker)) }
        var others = [String: [WireRun]]()
        for owner in try checker.owners() where !names.contains(owner.name) {
            others[owner.name] = try checker.runs(owner: owner.name)
        }
        let stats = try checker.stats()
        let allocated = try FrameScan.allocated(using: checker, frames: stats.frames)
        if Int(stats.frames) - Int(stats.freeFrames) != allocated.count {
            ledger.violation("cycle \(cycle): the recovered counters say \(Int(stats.frames) - Int(stats.freeFrames)) frames are allocated, the bitfields \(allocated.count)")
        }
        return ledger.check(cycle: cycle, listed: listed, others: others, allocated: allocated, reconcile: broken == nil)
    }

    /// The runs `owner` holds; nil if there is no such owner.
    private static func runsIfOwnerExists(_ owner: String, using checker: BlockingLLFreeClient) throws(ClientError) -> [WireRun]? {
        let runs: [WireRun]
        do {
            runs = try checker.runs(owner: owner)
        } catch {
            if case .refused(let refusal) = error, refusal.code == .unknownOwner { return nil }
            throw error
        }
        return runs
    }

    /// One client's load: random gets and puts until the connection breaks or `stop` is set.
    /// A lost connection ends the load (what was in flight is resolved after the restart); any
    /// other failure is a violation.
    static func load(socket: String, owner: Int, ledger: KillLedger, stop: StopFlag, maxOrder: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let name = ledger.ownerNames[owner]
        let client = BlockingLLFreeClient(socketPath: socket, owner: OwnerAttachment(name: name, kind: ledger.kind(owner)))
        defer { client.close() }
        while !stop.isSet {
            if Bool.random(using: &random) || ledger.heldFrames(owner) == 0 {
                let order = Int.random(in: 0...maxOrder, using: &random)
                let count = Int.random(in: 1...8, using: &random)
                ledger.sendingGet(owner, order: order, count: count)
                do {
                    let result = try client.get(order: order, count: count)
                    ledger.acknowledgedGet(owner, order: order, runs: result.frames)
                } catch {
                    // Still counted in flight: its frames may have been allocated.
                    if !Self.isKill(error) { ledger.violation("\(name): get of \(count) runs of order \(order) failed: \(error)") }
                    return
                }
            } else if let (order, runs) = ledger.takeForPut(owner, limit: Int.random(in: 1...8, using: &random), using: &random) {
                do {
                    let result = try client.put(order: order, frames: runs)
                    ledger.acknowledgedPut(owner, order: order, runs: runs, results: result.results)
                } catch {
                    switch error {
                    case .partialPut(let outcomes, _):
                        ledger.partlyAcknowledgedPut(owner, order: order, runs: runs, outcomes: outcomes)
                    case _ where Self.isKill(error):
                        break  // in flight: resolved after the restart
                    default:
                        ledger.failedPut(owner, order: order, runs: runs, error: error)
                    }
                    return
                }
            }
        }
    }

    /// Whether `error` is what the kill does to a client (its connection breaks or cannot be made).
    static func isKill(_ error: ClientError) -> Bool {
        switch error {
        case .connectionLost, .connect: return true
        default: return false
        }
    }

    private func start(_ binary: String, pool: String, socket: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--pool", pool, "--create", "--size", size, "--socket", socket, "--threads", "2",
                             "--durability", durability, "--log-level", "notice"]
        let handle = FileHandle(forWritingAtPath: log)!
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else { throw ValidationError("llfreed exited with \(process.terminationStatus); see \(log)") }
            let probe = BlockingLLFreeClient(socketPath: socket)
            defer { probe.close() }
            if (try? probe.ping()) != nil { return process }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ValidationError("llfreed did not serve within 60 s; see \(log)")
    }

    /// A file next to this executable.
    static func sibling(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
    }
}
