// `llfree-bench persistent`: what persistence costs per operation. Runs the same get/put loops on
// a volatile allocator and on a pool mapped through libpmem (PMEM_IS_PMEM_FORCE=1 on /dev/shm, so
// the pmem backend with real flushes and drains), and measures one store+flush+fence in the same
// run. Target: a persistent get or put costs at most the volatile one plus one fence.

import ArgumentParser
import Atomics
import LLFree
import LLFreePool
#if canImport(Glibc)
import Glibc
#endif

struct PersistentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persistent",
        abstract: "Persistent vs volatile get/put cost, beside the cost of one store+flush+fence.",
        discussion: "Sets PMEM_IS_PMEM_FORCE=1 unless it is set, so a pool on tmpfs uses the pmem backend."
    )

    @Option(help: "Directory for the scratch pool file.")
    var dir = "/dev/shm"

    @Option(help: "Memory the pool manages (1G, 4G, ...).")
    var size = "4G"

    @Option(help: "Rounds of each loop; the table shows the median.")
    var rounds = 3

    @Flag(help: "A 1 GiB pool and one round.")
    var quick = false

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    /// Nanoseconds per operation of each loop.
    struct Figures {
        var getBase = 0.0
        var putBase = 0.0
        var getHuge = 0.0
        var putHuge = 0.0
        var repeatPair = 0.0
    }

    func run() throws {
        if getenv("PMEM_IS_PMEM_FORCE") == nil { setenv("PMEM_IS_PMEM_FORCE", "1", 1) }
        let bytes: UInt64
        do { bytes = try SizeParser.parse(quick ? "1G" : size) } catch { throw ValidationError(error.description) }
        let frames = bytes / UInt64(Geometry.frameSize)
        let n = quick ? 1 : max(rounds, 1)
        let path = "\(dir)/llfree-bench-persistent-\(getpid()).pool"
        unlink(path)
        defer { unlink(path) }
        // The same pool without owners (format version 1) and with them (version 2), side by side.
        try Pool.format(path: path, frames: frames, ownerCapacity: nil)
        let pool = try Pool.open(path: path, cores: 1)
        defer { try? pool.close() }
        let ownedPath = path + ".owners"
        unlink(ownedPath)
        defer { unlink(ownedPath) }
        try Pool.format(path: ownedPath, frames: frames)
        let owned = try Pool.open(path: ownedPath, cores: 1)
        defer { try? owned.close() }
        let owner = try owned.allocator.visit(CreateOwner())

        // One store+flush+fence, and store+flush alone, on lines of the pool's frames area.
        let lines = 1 << 16
        let fence = Self.fenceCost(pool.frames, lines: lines, iterations: 1 << 20)

        // The volatile allocator over the same geometry, in ordinary memory.
        let geometry = pool.header.geometry
        let region = UnsafeMutableRawPointer.allocate(byteCount: geometry.metadataSize, alignment: 4096)
        defer { region.deallocate() }
        let volatileAllocator = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: 1)
        var volatile: [Figures] = []
        var persistent: [Figures] = []
        var withOwners: [Figures] = []
        for _ in 0..<n {
            volatile.append(Self.workload(volatileAllocator))
            persistent.append(pool.allocator.visit(Workload(owner: Owners.any)))
            withOwners.append(owned.allocator.visit(Workload(owner: owner)))
        }
        let v = Self.median(volatile)
        let p = Self.median(persistent)
        let o = Self.median(withOwners)

        let rows: [(String, Double, Double, Double, Int)] = [
            ("get order 0, bulk", v.getBase, p.getBase, o.getBase, 1),
            ("put order 0, bulk", v.putBase, p.putBase, o.putBase, 1),
            ("get order 9, bulk", v.getHuge, p.getHuge, o.getHuge, 1),
            ("put order 9, bulk", v.putHuge, p.putHuge, o.putHuge, 1),
            ("get+put order 0, repeat", v.repeatPair, p.repeatPair, o.repeatPair, 2),
        ]
        if json {
            print("{\"bench\":\"persistent\",\"durability\":\"\(pool.durability.mode)\",\"frames\":\(frames),\"storeFlushFenceNs\":\(Self.fixed(fence.full)),\"storeFlushNs\":\(Self.fixed(fence.flushOnly)),\"sameLineCasFlushFenceNs\":\(Self.fixed(fence.sameLineCAS))}")
            for (name, vol, per, own, fences) in rows {
                print("{\"bench\":\"persistent\",\"op\":\"\(name)\",\"volatileNs\":\(Self.fixed(vol)),\"persistentNs\":\(Self.fixed(per)),\"persistentOwnersNs\":\(Self.fixed(own)),\"ownersRatio\":\(Self.fixed3(own / per)),\"fencesPerOp\":\(fences),\"volatilePlusFencesNs\":\(Self.fixed(vol + Double(fences) * fence.full))}")
            }
            return
        }
        print("pool \(SizeParser.format(bytes)) on \(dir): durability \(pool.durability)")
        print("store+flush+fence: \(Self.fixed(fence.full)) ns; store+flush without fence (sequential lines): \(Self.fixed(fence.flushOnly)) ns")
        print("CAS+flush+fence on the line flushed just before: \(Self.fixed(fence.sameLineCAS)) ns")
        print(Self.pad("operation", 26) + Self.pad("volatile", 11) + Self.pad("persistent", 12) + Self.pad("difference", 12) + Self.pad("volatile + fences", 19)
              + Self.pad("with owners", 13) + "owners vs. not")
        for (name, vol, per, own, fences) in rows {
            // What the fences alone would add, measured in this run: beside it, not a verdict.
            let expected = vol + Double(fences) * fence.full
            print(Self.pad(name, 26) + Self.pad(Self.fixed(vol) + " ns", 11) + Self.pad(Self.fixed(per) + " ns", 12)
                  + Self.pad(Self.fixed(per - vol) + " ns", 12) + Self.pad(Self.fixed(expected) + " ns", 19)
                  + Self.pad(Self.fixed(own) + " ns", 13) + Self.fixed3(own / per) + "x")
        }
    }

    /// Runs ``PersistentCommand/workload(_:owner:)`` on a pool's allocator, whatever its persistence.
    struct Workload: PoolAllocatorVisitor {
        let owner: OwnerID
        func visit<P: Persistence>(_ image: PoolImage<P>) -> Figures { PersistentCommand.workload(image.allocator, owner: owner) }
    }

    /// Creates the owner the workload acts for in a pool with owners.
    struct CreateOwner: PoolAllocatorVisitor {
        func visit<P: Persistence>(_ image: PoolImage<P>) throws -> OwnerID {
            try image.owners!.create(name: "bench", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        }
    }

    /// Bulk gets then puts of order 0 and 9 (one fence each), and get+put pairs of one frame,
    /// for `owner` (``Owners/any`` without owners). Before each timed phase the idle zeroer
    /// (off the clock) makes every free frame known zero, as the daemon's keeps them while idle:
    /// these rows measure the allocator, `llfree-bench zero` what a get pays when it must zero.
    static func workload<P: Persistence>(_ a: LLFree<P>, owner: OwnerID = Owners.any) -> Figures {
        let clock = ContinuousClock()
        var f = Figures()
        let baseCount = min(Int(a.geometry.frames) / 2, 1 << 20)
        let hugeCount = max(a.geometry.children / 2, 1)
        let taken = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(baseCount, hugeCount))
        defer { taken.deallocate() }
        for (order, count) in [(0, baseCount), (Geometry.hugeOrder, hugeCount)] {
            ZeroCommand.zeroAll(a)
            var start = clock.now
            for i in 0..<count { taken[i] = try! a.get(order: order, core: 0, owner: owner) }
            let get = ns(clock.now - start) / Double(count)
            start = clock.now
            for i in 0..<count { try! a.put(taken[i], order: order, core: 0, owner: owner) }
            let put = ns(clock.now - start) / Double(count)
            if order == 0 { f.getBase = get; f.putBase = put } else { f.getHuge = get; f.putHuge = put }
        }
        let pairs = 1 << 18
        let start = clock.now
        for _ in 0..<pairs { try! a.put(try! a.get(order: 0, core: 0, owner: owner), order: 0, core: 0, owner: owner) }
        f.repeatPair = ns(clock.now - start) / Double(pairs)
        a.drainAll()
        return f
    }

    /// Costs of flushing and fencing, in nanoseconds per iteration.
    struct FenceCost {
        /// Store, flush, fence, cycling over many lines.
        var full = 0.0
        /// Store and flush, cycling over many lines, one fence at the end.
        var flushOnly = 0.0
        /// Compare-and-swap, flush, fence, always on the same line: what an operation pays when
        /// it changes a line the previous one flushed (a CPU whose clwb evicts the line, like AMD
        /// Zen, makes that a cache miss).
        var sameLineCAS = 0.0
    }

    /// Measures ``FenceCost`` on `lines` lines at `base`.
    static func fenceCost(_ base: UnsafeMutableRawPointer, lines: Int, iterations: Int) -> FenceCost {
        let clock = ContinuousClock()
        // Touch the lines first so page faults are not measured.
        for i in 0..<lines { (base + i * 64).storeBytes(of: 0, as: UInt64.self) }
        Pmem.persist(base, length: lines * 64)
        var start = clock.now
        for i in 0..<iterations {
            let line = base + (i & (lines - 1)) * 64
            line.storeBytes(of: UInt64(i), as: UInt64.self)
            Pmem.flush(line, length: 64)
            Pmem.drain()
        }
        let full = ns(clock.now - start) / Double(iterations)
        start = clock.now
        for i in 0..<iterations {
            let line = base + (i & (lines - 1)) * 64
            line.storeBytes(of: UInt64(i), as: UInt64.self)
            Pmem.flush(line, length: 64)
        }
        Pmem.drain()
        let flushOnly = ns(clock.now - start) / Double(iterations)
        let word = UnsafeAtomic<UInt64>(at: base.assumingMemoryBound(to: UnsafeAtomic<UInt64>.Storage.self))
        start = clock.now
        for i in 0..<iterations {
            _ = word.compareExchange(expected: UInt64(i), desired: UInt64(i) &+ 1, ordering: .acquiringAndReleasing)
            Pmem.flush(base, length: 64)
            Pmem.drain()
        }
        let sameLine = ns(clock.now - start) / Double(iterations)
        return FenceCost(full: full, flushOnly: flushOnly, sameLineCAS: sameLine)
    }

    // MARK: Formatting

    private static func ns(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
    }

    private static func median(_ figures: [Figures]) -> Figures {
        func mid(_ key: KeyPath<Figures, Double>) -> Double {
            let sorted = figures.map { $0[keyPath: key] }.sorted()
            return sorted[sorted.count / 2]
        }
        return Figures(getBase: mid(\.getBase), putBase: mid(\.putBase), getHuge: mid(\.getHuge),
                       putHuge: mid(\.putHuge), repeatPair: mid(\.repeatPair))
    }

    private static func fixed3(_ value: Double) -> String {
        "\((value * 1000).rounded() / 1000)"
    }

    private static func fixed(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return "\(rounded)"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
