import Testing
@testable import LLFree

@Suite struct TreeTests {
    @Test func encodesEveryField() {
        let t = Tree(free: 16384, reserved: true, kind: .movable)
        #expect(t.free == 16384 && t.reserved && t.kind == .movable)
        #expect(Tree(raw: t.raw) == t)
        let r = Reservation(tree: 123_456, free: 77)
        #expect(r.present && r.tree == 123_456 && r.free == 77)
        #expect(!Reservation.none.present)
    }

    @Test func aGetReservesATreeAndMovesItsCounterToTheCore() throws {
        let a = try TestAllocator(frames: 4 * 32 * 512, cores: 2)
        let llfree = a.llfree
        let frame = try llfree.get(order: 0, core: 0)
        let t = llfree.treeOf(frame)
        let entry = Tree(raw: llfree.tree(t).load(ordering: .relaxed))
        #expect(entry.reserved && entry.free == 0 && entry.kind == .fixed)
        let r = Reservation(raw: llfree.reservation(0, 0).load(ordering: .relaxed))
        #expect(r.present && r.tree == t && r.free == 32 * 512 - 1)
        #expect(llfree.validate() == [])
    }

    @Test func frameFreedByAnotherCoreGoesToTheGlobalCounterAndIsResynced() throws {
        let a = try TestAllocator(frames: 2 * 32 * 512, cores: 2)
        let llfree = a.llfree
        var frames: [UInt64] = []
        for _ in 0..<10 { frames.append(try llfree.get(order: 0, core: 0)) }
        let t = llfree.treeOf(frames[0])
        try llfree.put(frames[0], order: 0, core: 1)
        #expect(Tree(raw: llfree.tree(t).load(ordering: .relaxed)).free == 1)
        #expect(llfree.validate() == [])
        #expect(llfree.resync(0, 0))
        #expect(Tree(raw: llfree.tree(t).load(ordering: .relaxed)).free == 0)
        #expect(Reservation(raw: llfree.reservation(0, 0).load(ordering: .relaxed)).free == 32 * 512 - 9)
        #expect(llfree.validate() == [])
    }

    @Test func kindsUseDifferentTrees() throws {
        let a = try TestAllocator(frames: 4 * 32 * 512, cores: 1)
        let llfree = a.llfree
        let fixed = try llfree.get(order: 0, core: 0, kind: .fixed)
        let movable = try llfree.get(order: 0, core: 0, kind: .movable)
        let huge = try llfree.get(order: 9, core: 0)
        #expect(Set([llfree.treeOf(fixed), llfree.treeOf(movable), llfree.treeOf(huge)]).count == 3)
        #expect(llfree.validate() == [])
    }

    @Test func searchPrefersPartialTreesOverFreeOnes() throws {
        let a = try TestAllocator(frames: 8 * 32 * 512, cores: 2)
        let llfree = a.llfree
        // Core 0 takes half of a tree and lets it go: that tree is now partial.
        var frames: [UInt64] = []
        for _ in 0..<(16 * 512) { frames.append(try llfree.get(order: 0, core: 0)) }
        let partial = llfree.treeOf(frames[0])
        llfree.drain(core: 0)
        // Core 1 starts its search elsewhere but must pick the partial tree.
        let frame = try llfree.get(order: 0, core: 1)
        #expect(llfree.treeOf(frame) == partial)
        #expect(llfree.validate() == [])
    }

    @Test func reserveOnFreeAfterFourFrees() throws {
        let a = try TestAllocator(frames: 4 * 32 * 512, cores: 2)
        let llfree = a.llfree
        // Core 1 holds tree A; core 0 takes frames from another tree B and lets B go.
        let first = try llfree.get(order: 0, core: 1)
        var frames: [UInt64] = []
        for _ in 0..<8 { frames.append(try llfree.get(order: 0, core: 0)) }
        let treeA = llfree.treeOf(first), treeB = llfree.treeOf(frames[0])
        #expect(treeA != treeB)
        llfree.drain(core: 0)
        // Three frees into B leave core 1 on A; the fourth moves its reservation to B.
        for f in frames.prefix(3) { try llfree.put(f, order: 0, core: 1) }
        #expect(Reservation(raw: llfree.reservation(1, 0).load(ordering: .relaxed)).tree == treeA)
        try llfree.put(frames[3], order: 0, core: 1)
        let r = Reservation(raw: llfree.reservation(1, 0).load(ordering: .relaxed))
        #expect(r.present && r.tree == treeB)
        #expect(!Tree(raw: llfree.tree(treeA).load(ordering: .relaxed)).reserved)
        #expect(llfree.validate() == [])
    }

    @Test func drainReturnsEverything() throws {
        let a = try TestAllocator(frames: 4 * 32 * 512, cores: 3)
        let llfree = a.llfree
        for c in 0..<3 { _ = try llfree.get(order: 0, core: c); _ = try llfree.get(order: 9, core: c) }
        llfree.drainAll()
        for t in 0..<llfree.geometry.trees { #expect(!Tree(raw: llfree.tree(t).load(ordering: .relaxed)).reserved) }
        #expect(llfree.validate() == [])
        #expect(llfree.freeFrames == 4 * 32 * 512 - 3 * 513)
    }

    @Test func argumentsAreChecked() throws {
        let a = try TestAllocator(frames: 32 * 512 + 100, cores: 2)
        let llfree = a.llfree
        #expect(throws: LLFreeError.self) { try llfree.get(order: 15, core: 0) }
        #expect(throws: LLFreeError.self) { try llfree.get(order: -1, core: 0) }
        #expect(throws: LLFreeError.self) { try llfree.get(order: 0, core: 2) }
        #expect(throws: LLFreeError.self) { try llfree.put(32 * 512 + 100, order: 0, core: 0) }
        #expect(throws: LLFreeError.self) { try llfree.put(3, order: 1, core: 0) }
        // A run that reaches past the last frame.
        #expect(throws: LLFreeError.self) { try llfree.put(32 * 512 + 64, order: 6, core: 0) }
        #expect(throws: LLFreeError.notAllocated(frame: 0, order: 0)) { try llfree.put(0, order: 0, core: 0) }
        #expect(llfree.validate() == [])
        #expect(llfree.freeFrames == 32 * 512 + 100)
    }
}
