// `llfree-bench paper`: the paper's user-space benchmarks (bulk, repeat, rand; orders 0 and 9;
// 1..N threads) on a 4 GiB allocator, LLFree next to the baselines, medians of several runs.

import CPUAffinity
import ArgumentParser
import LLFree

/// Reproduces the LLFree paper's user-space benchmarks.
struct PaperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "Bulk, repeat and rand benchmarks of LLFree and the baselines (run the release build).",
        discussion: """
            Each thread works on its share of half the memory (memory / max threads / 2 / 2^order \
            operations per thread), as in the paper. Threads are pinned to the allowed CPUs, one \
            per thread, and use their own core index. Every run starts from a freshly formatted \
            allocator; the figures are medians over the runs. get/LL and put/LL are ratios to \
            LLFree/volatile in the same group: compare those on a noisy machine.
            """)

    @Flag(help: "One JSON object per result line instead of the table.")
    var json = false

    @Flag(help: "A short run (under a minute): fewer runs.")
    var quick = false

    @Option(help: "Runs per result, the median is reported (default 7, quick 3).")
    var runs: Int?

    @Option(help: "Largest thread count (default: the CPUs this process may use).")
    var threads: Int?

    @Option(help: "Managed memory in GiB.")
    var gib = 4

    @Option(parsing: .upToNextOption, help: "Orders to run.")
    var orders: [Int] = [0, 9]

    @Option(parsing: .upToNextOption, help: "Benchmarks to run: bulk, repeat, rand.")
    var bench: [String] = BenchKind.allCases.map(\.rawValue)

    @Option(help: "Only allocators whose name contains this text.")
    var allocator: String?

    @Option(help: "Seed of the rand benchmark's shuffle.")
    var seed: UInt64 = 42

    mutating func validate() throws {
        guard gib >= 1 else { throw ValidationError("--gib must be at least 1") }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        for order in orders where order < 0 || order > 10 { throw ValidationError("order \(order) is outside 0...10") }
        for name in bench where BenchKind(rawValue: name) == nil {
            throw ValidationError("unknown benchmark \(name); use bulk, repeat or rand")
        }
    }

    func run() throws {
        let cpus = CPUAffinity.allowedCPUs()
        let maxThreads = threads ?? cpus.count
        let runCount = runs ?? (quick ? 3 : 7)
        let frames = UInt64(gib) << 18
        let contenders = Contender.all.filter { allocator == nil || $0.name.contains(allocator!) }
        let benches = BenchKind.allCases.filter { bench.contains($0.rawValue) }
        let perGiB = { (c: Contender) in c.metadataBytes(frames, maxThreads) / gib }

        if !json {
            print("llfree-bench paper: \(gib) GiB (\(frames) frames), threads 1...\(maxThreads) on CPUs \(cpus), \(runCount) runs per result (median)")
            #if DEBUG
            print("warning: this is a debug build; timings are meaningless, use -c release")
            #endif
            print("")
            printMetadata(contenders, frames: frames, cores: maxThreads)
            print("")
            print(Report.header())
        }

        var rows: [ResultRow] = []
        for kind in benches {
            for order in orders {
                let allocs = Int(frames >> UInt64(order)) / maxThreads / 2
                for t in 1...maxThreads {
                    let config = Harness.Config(bench: kind, order: order, threads: t, allocs: allocs,
                                                frames: frames, cpus: cpus, seed: seed)
                    // Interleave the allocators run by run, so slow phases of a shared machine hit
                    // all of them alike.
                    var samples = [[Sample]](repeating: [], count: contenders.count)
                    for _ in 0..<runCount {
                        for (i, contender) in contenders.enumerated() {
                            samples[i].append(try contender.run(config))
                        }
                    }
                    var group: [ResultRow] = []
                    for (i, contender) in contenders.enumerated() {
                        group.append(ResultRow(
                            bench: kind, allocator: contender.name, order: order, threads: t,
                            getNs: ResultRow.median(samples[i].map(\.getNs)),
                            putNs: ResultRow.median(samples[i].map(\.putNs)),
                            runs: runCount, allocs: allocs, memoryGiB: gib,
                            metadataBytesPerGiB: perGiB(contender),
                            getCalls: samples[i].first?.getCalls, putCalls: samples[i].first?.putCalls))
                    }
                    let reference = group.first { $0.allocator == LLFreeAllocator<VolatilePersistence>.name }
                    for row in group {
                        print(json ? Report.json(row) : Report.line(row, reference: reference))
                    }
                    rows += group
                }
            }
        }
        if !json {
            print("")
            printPersistenceCost(rows)
        }
    }

    func printMetadata(_ contenders: [Contender], frames: UInt64, cores: Int) {
        print("Metadata per GiB managed (\(gib) GiB, \(cores) cores; floor: 1 bit per frame = 32768 B/GiB):")
        for c in contenders {
            let perGiB = c.metadataBytes(frames, cores) / gib
            print("  " + Report.pad(c.name, 24, left: true) + Report.pad(String(perGiB), 10) + " B/GiB"
                  + Report.pad(Report.fixed(Double(perGiB) / 32768, 2), 8) + " x floor")
        }
        if let geometry = try? Geometry(frames: frames) {
            // LLFree's figure is mostly the persistent lower level; say how it splits.
            let bitfields = geometry.children * Geometry.lineSize / gib
            let entries = (geometry.metadataSize - geometry.childrenOffset) / gib
            print("  (LLFree: \(bitfields) B/GiB bitfields + \(entries) B/GiB child entries persistent, the rest volatile: "
                  + "\(geometry.trees) tree entries of 4 B and one 64 B line per core)")
        }
    }

    /// What the persistence seam costs: LLFree with the volatile seam beside LLFree with one that
    /// counts every call, measured in the same run (absolute figures from another host judge
    /// nothing; the table's get/LL and put/LL ratios compare the baselines).
    func printPersistenceCost(_ rows: [ResultRow]) {
        let volatileName = LLFreeAllocator<VolatilePersistence>.name
        let countingName = LLFreeAllocator<CountingPersistence>.name
        func find(_ name: String, _ kind: BenchKind, _ order: Int) -> ResultRow? {
            rows.first { $0.allocator == name && $0.bench == kind && $0.order == order && $0.threads == 1 }
        }
        print("LLFree with VolatilePersistence vs with a counting Persistence (1 thread, ns per op):")
        for kind in BenchKind.allCases {
            for order in orders {
                guard let v = find(volatileName, kind, order), let c = find(countingName, kind, order) else { continue }
                let pair = kind == .repeat
                var text = "  " + Report.pad("\(kind.rawValue) order \(order)", 24, left: true)
                text += "get " + Report.fixed(v.getNs) + " vs " + Report.fixed(c.getNs)
                if !pair { text += ", put " + Report.fixed(v.putNs) + " vs " + Report.fixed(c.putNs) }
                print(text + (pair ? " (pair)" : ""))
            }
        }
    }
}
