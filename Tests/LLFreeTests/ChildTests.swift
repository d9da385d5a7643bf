import Testing
@testable import LLFree

@Suite struct ChildTests {
    @Test func encodesEveryField() {
        let c = Child(free: 512)
        #expect(c.free == 512 && !c.huge && c.span == 0)
        let h = Child(free: 0, huge: true, span: 5)
        #expect(h.free == 0 && h.huge && h.span == 5)
        #expect(Child(raw: h.raw) == h)
        #expect(Child(free: Child.splitting, huge: true).isSplitting)
        #expect(!Child(free: 0, huge: true).isSplitting)
    }

    @Test func counterArithmeticStaysInTheFreeField() throws {
        let a = try TestAllocator(frames: 2048)
        let lower = a.llfree.lower
        #expect(lower.decrement(0, 512))
        #expect(lower.child(0) == Child(free: 0))
        #expect(!lower.decrement(0, 1))
        lower.increment(0, 7)
        #expect(lower.child(0) == Child(free: 7))
        #expect(!lower.decrement(0, 8))
        #expect(lower.decrement(0, 7))
        lower.increment(0, 512)
    }

    @Test func hugeTransitionsAndSplit() throws {
        let a = try TestAllocator(frames: 2048, treeChildren: 4)
        let lower = a.llfree.lower
        #expect(lower.takeHuge(start: 1, span: 0))
        #expect(lower.child(1) == Child(free: 0, huge: true))
        #expect(!lower.takeHuge(start: 1, span: 0))
        // Freeing one base frame splits it: 511 frames stay allocated.
        try lower.put(frame: 512 + 3, order: 0, owner: Owners.any, waiting: Yielding())
        #expect(lower.child(1) == Child(free: 1))
        #expect(lower.bitfield(1).allocated() == 511)
        // An order-9 put of a split child is an order mismatch.
        #expect(throws: LLFreeError.notAllocated(frame: 512, order: 9)) { try lower.put(frame: 512, order: 9, owner: Owners.any, waiting: Yielding()) }
        // Two children as one order-10 run: parts of it cannot be freed alone.
        #expect(lower.takeHuge(start: 2, span: 1))
        #expect(throws: LLFreeError.self) { try lower.put(frame: 1024, order: 9, owner: Owners.any, waiting: Yielding()) }
        #expect(throws: LLFreeError.self) { try lower.put(frame: 1536, order: 0, owner: Owners.any, waiting: Yielding()) }
        try lower.put(frame: 1024, order: 10, owner: Owners.any, waiting: Yielding())
        #expect(lower.child(2) == Child(free: 512) && lower.child(3) == Child(free: 512))
        #expect(lower.validate().isEmpty)
    }
}
