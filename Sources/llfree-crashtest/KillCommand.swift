// `llfree-crashtest kill --cycles N --clients K`: the process-level crash test. Starts the real
// llfreed on a pool, lets K clients get and put random orders while keeping a ledger of every
// acknowledged run, SIGKILLs the daemon at a random moment, restarts it (recovery runs), and
// checks the ledger against the recovered pool: every held run allocated, no frame handed to two
// holders, and no more frames leaked than were in gets in flight at the kill.

import ArgumentParser
import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeSimulation

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Kill llfreed at random moments under load and check what clients were told against the recovered pool.",
        discussion: "Last line: 'cycles: N, violations: V, leaked: L'. Exits 1 if there was any violation.")

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
        var previousLeak = 0
        var totalFrames = 0
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
            for (run, order) in ledger.putting {
                ledger.resolvePut(run: run, order: order, free: try checker.isFree(run, order: order))
            }
            for (run, order) in ledger.held where try checker.isFree(run, order: order) {
                ledger.violation("cycle \(cycle): run \(run) of order \(order) was acknowledged to a holder but is free after recovery")
            }
            let stats = try checker.stats()
            totalFrames = Int(stats.frames)
            let leak = Int(stats.frames) - Int(stats.freeFrames) - ledger.heldFrames
            let newLeak = leak - previousLeak
            if leak < 0 { ledger.violation("cycle \(cycle): \(-leak) more frames free than the ledger allows") }
            if newLeak > ledger.getsInFlight {
                ledger.violation("cycle \(cycle): \(newLeak) frames leaked but only \(ledger.getsInFlight) were in gets in flight")
            }
            leakedTotal += max(0, newLeak)
            previousLeak = max(previousLeak, leak)
            print("cycle \(cycle): held \(ledger.heldFrames) frames, in flight at kill \(ledger.getsInFlight), leaked \(max(0, newLeak)), violations so far \(ledger.violations.count)")
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        if process.terminationStatus != 0 { ledger.violation("llfreed exited \(process.terminationStatus) on SIGTERM") }
        for line in ledger.violations.prefix(20) { print("violation: \(line)") }
        _ = totalFrames
        print("cycles: \(cycles), violations: \(ledger.violations.count), leaked: \(leakedTotal)")
        if !ledger.violations.isEmpty { throw ExitCode(1) }
    }

    /// One client's load: random gets and puts until the connection breaks or `stop` is set.
    static func load(socket: String, ledger: KillLedger, stop: StopFlag, maxOrder: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let client = BlockingLLFreeClient(socketPath: socket)
        defer { client.close() }
        while !stop.isSet {
            if Bool.random(using: &random) || ledger.heldFrames == 0 {
                let order = Int.random(in: 0...maxOrder, using: &random)
                let count = Int.random(in: 1...8, using: &random)
                ledger.sendingGet(order: order, count: count)
                guard let result = try? client.get(order: order, count: count) else { return }
                ledger.acknowledgedGet(order: order, count: count, runs: result.frames)
            } else if let (order, runs) = ledger.takeForPut(limit: Int.random(in: 1...8, using: &random), using: &random) {
                guard let result = try? client.put(order: order, frames: runs) else { return }
                ledger.acknowledgedPut(order: order, runs: runs, results: result.results)
            }
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
