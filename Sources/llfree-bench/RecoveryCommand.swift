// `llfree-bench recovery`: how long opening a pool takes when it was closed cleanly and when it
// was not (the recovery scan), for sparse pool files of 1 GiB up to 1 TiB, without owners (format
// version 1) and with them (version 2) in one run; and with owners, how long settling every
// tree's tags takes after ready (in the background) and what share of the managed memory the
// metadata takes. Targets: a dirty 1 TiB pool opens in under 50 ms; with owners within 1.2x of
// the open without them, settling within 1 s, metadata at most 0.1%.

import ArgumentParser
import LLFree
import LLFreePool
#if canImport(Glibc)
import Glibc
#endif

struct RecoveryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Time to open a clean and a dirty pool, 1 GiB to 1 TiB (sparse files, cpu-cache durability), without and with owners; settle time and metadata share with owners."
    )

    @Option(help: "Directory for the scratch pool files (tmpfs keeps it about memory, not the disk).")
    var dir = "/dev/shm"

    @Option(help: "Opens measured per state and size; the table shows the median.")
    var repeats = 5

    @Flag(help: "Fewer sizes (1G, 32G, 1T) and repeats.")
    var quick = false

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    /// The figures of one pool size and format, in milliseconds.
    struct Row {
        var owners: Bool
        var metadataBytes: Int
        var cleanSettleMs: Double
        var dirtySettleMs: Double
        var size: UInt64
        var bitfieldBytes: Int
        var formatMs: Double
        var cleanOpenMs: Double
        var dirtyOpenMs: Double
        var scanMs: Double
        var upperMs: Double
        var mapMs: Double
    }

    func run() throws {
        let gib: UInt64 = 1 << 30
        let sizes: [UInt64] = quick ? [gib, 32 * gib, 1024 * gib] : [gib, 4 * gib, 16 * gib, 64 * gib, 256 * gib, 1024 * gib]
        let rounds = quick ? min(repeats, 3) : repeats
        if !json {
            print("Opening pools on \(dir) (cpu-cache durability), median of \(rounds) opens; a dirty open runs the recovery scan.")
            print("With owners, settling (every tree's tags, in the background after ready) is timed after a clean and after a dirty open.")
            print(Self.pad("size", 6) + Self.pad("owners", 7) + Self.pad("metadata", 16) + Self.pad("format", 10) + Self.pad("clean open", 12) + Self.pad("dirty open", 12)
                  + Self.pad("of it: scan", 13) + Self.pad("upper", 9) + Self.pad("map", 9) + Self.pad("settle clean", 14) + Self.pad("settle dirty", 14) + "dirty open vs. no owners")
        }
        for size in sizes {
            var baseline = 0.0
            for owners in [false, true] {
                let row = try measure(size: size, rounds: rounds, owners: owners)
                if !owners { baseline = row.dirtyOpenMs }
                let share = Double(row.metadataBytes) / Double(size) * 100
                let ratio = row.dirtyOpenMs / max(baseline, 1e-9)
                if json {
                    var fields = ["\"bench\":\"recovery\"", "\"size\":\(size)", "\"owners\":\(owners)", "\"metadataBytes\":\(row.metadataBytes)"]
                    fields += ["\"metadataPercent\":\(Self.fixed(share, 4))", "\"bitfieldBytes\":\(row.bitfieldBytes)", "\"formatMs\":\(Self.fixed(row.formatMs, 2))"]
                    fields += ["\"cleanOpenMs\":\(Self.fixed(row.cleanOpenMs, 2))", "\"dirtyOpenMs\":\(Self.fixed(row.dirtyOpenMs, 2))", "\"scanMs\":\(Self.fixed(row.scanMs, 2))"]
                    fields += ["\"upperLevelMs\":\(Self.fixed(row.upperMs, 2))", "\"mapMs\":\(Self.fixed(row.mapMs, 2))"]
                    if owners {
                        fields += ["\"cleanSettleMs\":\(Self.fixed(row.cleanSettleMs, 2))", "\"dirtySettleMs\":\(Self.fixed(row.dirtySettleMs, 2))", "\"dirtyOpenRatioToNoOwners\":\(Self.fixed(ratio, 3))"]
                    }
                    print("{" + fields.joined(separator: ",") + "}")
                } else {
                    print(Self.pad(SizeParser.format(size), 6) + Self.pad(owners ? "on" : "off", 7)
                          + Self.pad(SizeParser.format(UInt64(row.metadataBytes)) + " " + Self.fixed(share, 3) + "%", 16)
                          + Self.pad(Self.fixed(row.formatMs, 1) + " ms", 10) + Self.pad(Self.fixed(row.cleanOpenMs, 2) + " ms", 12)
                          + Self.pad(Self.fixed(row.dirtyOpenMs, 2) + " ms", 12) + Self.pad(Self.fixed(row.scanMs, 2) + " ms", 13)
                          + Self.pad(Self.fixed(row.upperMs, 2) + " ms", 9) + Self.pad(Self.fixed(row.mapMs, 2) + " ms", 9)
                          + Self.pad(owners ? Self.fixed(row.cleanSettleMs, 1) + " ms" : "-", 14)
                          + Self.pad(owners ? Self.fixed(row.dirtySettleMs, 1) + " ms" : "-", 14)
                          + (owners ? Self.fixed(ratio, 2) + "x" : "-"))
                }
            }
        }
    }

    /// Formats a pool of `size` bytes of frames, fills part of it, and times clean and dirty opens.
    func measure(size: UInt64, rounds: Int, owners: Bool) throws -> Row {
        let path = "\(dir)/llfree-bench-recovery-\(getpid()).pool"
        unlink(path)
        defer { unlink(path) }
        let clock = ContinuousClock()
        let frames = size / UInt64(Geometry.frameSize)
        var start = clock.now
        let header = try Pool.format(path: path, frames: frames, ownerCapacity: owners ? PoolLayout.defaultOwnerCapacity : nil,
                                     durability: .cpuCache).header
        let formatMs = Self.ms(clock.now - start)

        // Content for the scan: a quarter of the huge frames and up to 1 Mi base frames, spread
        // over the pool by taking them from different cores.
        let filling = try Pool.open(path: path, cores: 4, durability: .cpuCache)
        try filling.allocator.visit(Fill(huge: header.geometry.children / 4, base: min(Int(frames) / 4, 1 << 20)))
        try filling.close()

        var clean: [Double] = []
        var dirty: [Double] = []
        var scan: [Double] = []
        var upper: [Double] = []
        var map: [Double] = []
        var cleanSettle: [Double] = []
        var dirtySettle: [Double] = []
        for _ in 0..<rounds {
            start = clock.now
            let c = try Pool.open(path: path, cores: 4, durability: .cpuCache)
            clean.append(Self.ms(clock.now - start))
            precondition(!c.report.wasDirty)
            start = clock.now
            c.allocator.visit(SettleAll())
            cleanSettle.append(Self.ms(clock.now - start))
            try c.abandon()
            start = clock.now
            let d = try Pool.open(path: path, cores: 4, durability: .cpuCache)
            dirty.append(Self.ms(clock.now - start))
            precondition(d.report.wasDirty && d.report.recovery?.children == header.geometry.children)
            scan.append(Self.ms(d.report.recoveryScan))
            upper.append(Self.ms(d.report.upperLevel))
            map.append(Self.ms(d.report.mapping))
            start = clock.now
            d.allocator.visit(SettleAll())
            dirtySettle.append(Self.ms(clock.now - start))
            try d.close()
        }
        return Row(owners: owners, metadataBytes: header.layout.imageLength - PoolLayout.headerLength,
                   cleanSettleMs: Self.median(cleanSettle), dirtySettleMs: Self.median(dirtySettle), size: size, bitfieldBytes: header.layout.bitfieldsLength, formatMs: formatMs,
                   cleanOpenMs: Self.median(clean), dirtyOpenMs: Self.median(dirty), scanMs: Self.median(scan),
                   upperMs: Self.median(upper), mapMs: Self.median(map))
    }

    /// Settles every tree's owner tags (nothing without owners).
    struct SettleAll: PoolAllocatorVisitor {
        func visit<P: Persistence>(_ image: PoolImage<P>) { image.allocator.settleAll() }
    }

    /// Allocates `huge` huge frames and `base` base frames, in batches with one fence each, for
    /// an owner "bench" with owners.
    struct Fill: PoolAllocatorVisitor {
        let huge: Int
        let base: Int
        func visit<P: Persistence>(_ image: PoolImage<P>) throws(LLFreeError) {
            let a = image.allocator
            var owner = Owners.any
            if let table = image.owners {
                do { owner = try table.create(name: "bench", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id } catch {
                    throw .invalidArgument("\(error)")
                }
            }
            let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 4096)
            defer { buffer.deallocate() }
            for (order, total) in [(Geometry.hugeOrder, huge), (0, base)] {
                var left = total
                var core = 0
                while left > 0 {
                    let n = min(left, buffer.count)
                    let (got, error) = a.get(order: order, core: core % a.cores, owner: owner, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
                    if let error, got == 0 { throw error }
                    left -= got
                    core += 1
                }
            }
        }
    }

    // MARK: Formatting

    private static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    private static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = "\(rounded)"
        if let dot = text.firstIndex(of: ".") {
            let have = text.distance(from: dot, to: text.endIndex) - 1
            if have < decimals { text += String(repeating: "0", count: decimals - have) }
        }
        return text
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
