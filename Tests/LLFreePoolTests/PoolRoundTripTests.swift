// Round trips through real libpmem mappings of pool files: format, open, allocate, close or
// abandon, reopen; the same frames must be allocated, and the state must say whether recovery ran.

import Foundation
import LLFree
@testable import LLFreePool
import Testing

/// Allocations made by `allocate`, to check after a reopen.
struct Taken {
    var runs: [(frame: UInt64, order: Int)] = []
    var frames: Int { runs.reduce(0) { $0 + 1 << $1.order } }
}

/// Gets a mix of orders on two cores and frees some of them again.
struct Allocate: PoolAllocatorVisitor {
    func visit<P: Persistence>(_ image: PoolImage<P>) throws -> Taken {
        let a = image.allocator
        // A persistent owner, so that the frames survive settling at the next open.
        let owner = try testOwner(image)
        var taken = Taken()
        for (i, order) in [0, 0, 0, 1, 3, 6, 8, 9, 9, 10, 0, 0].enumerated() {
            taken.runs.append((try a.get(order: order, core: i % 2, owner: owner), order))
        }
        // Free a few, including a base frame of a huge frame (a split).
        try a.put(taken.runs[1].frame, order: 0, core: 1, owner: owner)
        let huge = taken.runs[7].frame
        try a.put(huge + 3, order: 0, core: 0, owner: owner)
        taken.runs.remove(at: 7)
        taken.runs.remove(at: 1)
        for f in 0..<UInt64(512) where f != 3 { taken.runs.append((huge + f, 0)) }
        return taken
    }
}

/// Checks that exactly the `taken` runs are allocated and the allocator is consistent.
struct Verify: PoolAllocatorVisitor {
    let taken: Taken
    func visit<P: Persistence>(_ image: PoolImage<P>) throws(LLFreeError) -> Bool {
        let a = image.allocator
        for run in taken.runs where try a.isFree(run.frame, order: run.order) { return false }
        return a.freeFrames == Int(a.geometry.frames) - taken.frames && a.validate().isEmpty
    }
}

@Suite struct PoolRoundTripTests {
    let frames: UInt64 = 64 * 512 + 100

    @Test(arguments: [DurabilityRequest.cpuCache, .msync])
    func cleanCloseReopensCleanWithTheSameFrames(durability: DurabilityRequest) throws {
        let scratch = ScratchPath("clean"); defer { scratch.remove() }
        let (header, used) = try Pool.format(path: scratch.path, frames: frames, treeChildren: 8, durability: durability)
        #expect(header.state == PoolState(clean: true, generation: 0))
        #expect(used.mode == (durability == .msync ? .msync : .cpuCache))

        let pool = try Pool.open(path: scratch.path, cores: 2, durability: durability)
        #expect(!pool.report.wasDirty && pool.report.recovery == nil)
        #expect(pool.durability.mode == used.mode)
        // Dirty is durable before the first mutation: the file says so while the pool is open.
        #expect(PoolState(raw: try readWord(scratch.path, at: 192)) == PoolState(clean: false, generation: 1))
        let taken = try pool.allocator.visit(Allocate())
        try pool.close()
        #expect(PoolState(raw: try readWord(scratch.path, at: 192)) == PoolState(clean: true, generation: 1))

        let again = try Pool.open(path: scratch.path, cores: 3, durability: durability)
        #expect(!again.report.wasDirty)
        #expect(again.report.generation == 2)
        #expect(again.header.uuid == header.uuid)
        #expect(try again.allocator.visit(Verify(taken: taken)))
        try again.close()
        #expect(try Pool.inspect(path: scratch.path).consistent)
    }

    @Test(arguments: [DurabilityRequest.cpuCache, .msync])
    func abandonedPoolRecoversWithTheSameFrames(durability: DurabilityRequest) throws {
        let scratch = ScratchPath("dirty"); defer { scratch.remove() }
        let header = try Pool.format(path: scratch.path, frames: frames, treeChildren: 8, durability: durability).header
        let pool = try Pool.open(path: scratch.path, cores: 2, durability: durability)
        let taken = try pool.allocator.visit(Allocate())
        try pool.abandon()
        // A counter that lagged at the crash (the fast path never flushes counters): child 0's
        // entry says all 512 frames are free although some are allocated.
        let entries = header.layout.childrenOffset
        let word = try readWord(scratch.path, at: UInt64(entries))
        try patchWord(scratch.path, at: UInt64(entries), word & ~0xFFFF | UInt64(Child(free: 512).raw))
        let inspection = try Pool.inspect(path: scratch.path)
        #expect(!inspection.header.state.clean && !inspection.consistent)

        let again = try Pool.open(path: scratch.path, cores: 2, durability: durability)
        #expect(again.report.wasDirty)
        let recovery = try #require(again.report.recovery)
        #expect(recovery.countersFixed == 1)
        #expect(recovery.children == again.header.geometry.children)
        #expect(try again.allocator.visit(Verify(taken: taken)))
        try again.close()
        let after = try Pool.inspect(path: scratch.path)
        #expect(after.consistent && after.header.state.clean)
        #expect(after.freeFrames == Int(frames) - taken.frames)
    }

    @Test func releasedPoolWithoutCloseStaysDirty() throws {
        let scratch = ScratchPath("release"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: frames, durability: .cpuCache)
        var taken = Taken()
        do {
            let pool = try Pool.open(path: scratch.path, cores: 2, durability: .cpuCache)
            taken = try pool.allocator.visit(Allocate())
        }
        let again = try Pool.open(path: scratch.path, cores: 2, durability: .cpuCache)
        #expect(again.report.wasDirty && again.report.recovery?.repaired == false)
        #expect(try again.allocator.visit(Verify(taken: taken)))
        try again.close()
    }

    @Test func forceFormatReplacesAPool() throws {
        let scratch = ScratchPath("force"); defer { scratch.remove() }
        let first = try Pool.format(path: scratch.path, frames: frames, durability: .cpuCache).header
        let pool = try Pool.open(path: scratch.path, cores: 2, durability: .cpuCache)
        _ = try pool.allocator.visit(Allocate())
        try pool.close()
        let second = try Pool.format(path: scratch.path, frames: smallFrames, force: true, durability: .cpuCache).header
        #expect(second.uuid != first.uuid)
        let inspection = try Pool.inspect(path: scratch.path)
        #expect(inspection.freeFrames == Int(smallFrames) && inspection.consistent)
        #expect(try FileManager.default.attributesOfItem(atPath: scratch.path)[.size] as? UInt64 == second.layout.fileSize)
    }

    @Test func framesAreaIsAlignedAndMappedWritable() throws {
        let scratch = ScratchPath("frames"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let pool = try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache)
        #expect(pool.header.layout.framesOffset % UInt64(PoolLayout.framesAlignment) == 0)
        guard case .pmem(let image) = pool.allocator else { Issue.record("cpu-cache uses PmemPersistence"); return }
        let frame = try image.allocator.get(order: 0, core: 0, owner: try testOwner(image))
        let bytes = pool.frames + Int(frame) * Geometry.frameSize
        bytes.storeBytes(of: 0xA5A5, as: UInt64.self)
        try pool.close()
        let offset = pool.header.layout.framesOffset + frame * UInt64(Geometry.frameSize)
        #expect(try readWord(scratch.path, at: offset) == 0xA5A5)
    }
}
