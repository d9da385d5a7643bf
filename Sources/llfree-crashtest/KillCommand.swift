// `llfree-crashtest kill --cycles N --clients K`: the process-level crash test. Starts the real
// llfreed on a pool, lets K clients get and put random orders while keeping a ledger of every
// acknowledged run, SIGKILLs the daemon at a random moment, restarts it (recovery runs), and
// checks the ledger against every frame of the recovered pool: every frame of every held run
// allocated, no frame handed to two holders, frames that leaked earlier still allocated, and no
// more frames newly leaked than were in gets in flight at the kill.
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
            After each kill and restart every frame of the pool is checked: each frame of each run a \
            client was told it holds must be allocated; a frame leaked (allocated, held by no one) in \
            an earlier cycle must stay allocated; new leaks may not exceed the frames of gets in \
            flight at the kill; no get may hand out a held or leaked frame; a put of held runs may \
            not be refused.

            SIGKILL cannot test power-fail durability: stores to the daemon's MAP_SHARED mapping \
            survive the death of the process even if they were never flushed, so a missing flush or \
            fence goes unnoticed here. That is what 'llfree-crashtest sim' tests, on a simulated \
            persistence domain that drops what was not flushed.

            Last line: 'cycles: N, violations: V, leaked: L'. Exits 1 if there was any violation.
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

    func run() throws {
        guard cycles >= 1, clients >= 1, maxOrder >= 0, maxOrder <= 14 else { throw ValidationError("cycles and clients must be positive, max order 0...14") }
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

        let ledger = KillLedger()
        var leakedTotal = 0
        var process = try start(binary, pool: pool, socket: socket, log: logPath)
        for cycle in 1...cycles {
            ledger.resetInFlight()
            let stopFlag = StopFlag()
            let threads = (0..<clients).map { i in
                Thread { [maxOrder] in
                    Self.load(socket: socket, ledger: ledger, stop: stopFlag, maxOrder: maxOrder, seed: seed &+ UInt64(cycle * 1000 + i))
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
            let stats = try checker.stats()
            let allocated = try FrameScan.allocated(using: checker, frames: stats.frames)
            if Int(stats.frames) - Int(stats.freeFrames) != allocated.count {
                ledger.violation("cycle \(cycle): the recovered counters say \(Int(stats.frames) - Int(stats.freeFrames)) frames are allocated, the bitfields \(allocated.count)")
            }
            let inFlight = ledger.getsInFlight
            let result = ledger.check(cycle: cycle, allocated: allocated)
            leakedTotal = result.leaked
            print("cycle \(cycle): held \(ledger.heldFrames) frames, in gets in flight at kill \(inFlight), newly leaked \(result.newlyLeaked), leaked \(result.leaked), violations so far \(ledger.violations.count)")
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        if process.terminationStatus != 0 { ledger.violation("llfreed exited \(process.terminationStatus) on SIGTERM") }
        for line in ledger.violations.prefix(20) { print("violation: \(line)") }
        print("cycles: \(cycles), violations: \(ledger.violations.count), leaked: \(leakedTotal)")
        if !ledger.violations.isEmpty { throw ExitCode(1) }
    }

    /// One client's load: random gets and puts until the connection breaks or `stop` is set.
    /// A lost connection ends the load (what was in flight is resolved after the restart); any
    /// other failure is a violation.
    static func load(socket: String, ledger: KillLedger, stop: StopFlag, maxOrder: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let client = BlockingLLFreeClient(socketPath: socket)
        defer { client.close() }
        while !stop.isSet {
            if Bool.random(using: &random) || ledger.heldFrames == 0 {
                let order = Int.random(in: 0...maxOrder, using: &random)
                let count = Int.random(in: 1...8, using: &random)
                ledger.sendingGet(order: order, count: count)
                do {
                    let result = try client.get(order: order, count: count)
                    ledger.acknowledgedGet(order: order, count: count, runs: result.frames)
                } catch {
                    // Still counted in flight: its frames may have been allocated.
                    if !Self.isKill(error) { ledger.violation("get of \(count) runs of order \(order) failed: \(error)") }
                    return
                }
            } else if let (order, runs) = ledger.takeForPut(limit: Int.random(in: 1...8, using: &random), using: &random) {
                do {
                    let result = try client.put(order: order, frames: runs)
                    ledger.acknowledgedPut(order: order, runs: runs, results: result.results)
                } catch {
                    switch error {
                    case .partialPut(let outcomes, _):
                        ledger.partlyAcknowledgedPut(order: order, runs: runs, outcomes: outcomes)
                    case _ where Self.isKill(error):
                        break  // in flight: resolved after the restart
                    default:
                        ledger.failedPut(order: order, runs: runs, error: error)
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
