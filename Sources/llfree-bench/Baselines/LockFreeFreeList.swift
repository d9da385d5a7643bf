// Baseline: a lock-free (Treiber) stack of equally sized blocks. The head word packs the top
// block with a 32-bit tag that every successful CAS increments, so a pop that read a stale
// head and its stale `next` fails instead of corrupting the list (the ABA problem).

import Atomics

/// A lock-free LIFO free list of blocks of one order. Does not detect double frees.
final class LockFreeFreeList: BenchAllocator, @unchecked Sendable {
    static var name: String { "LockFreeFreeList" }

    static let none = UInt32.max
    let order: Int
    let blocks: Int
    /// next[block]: atomic because a racing pop may read the link of a block another thread is
    /// pushing or has just popped; its CAS then fails on the tag.
    let next: UnsafeMutablePointer<UnsafeAtomic<UInt32>.Storage>
    /// Head word: tag in the high 32 bits, top block (or `none`) in the low 32; own cache line.
    let headWord: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    init(frames: UInt64, cores: Int, order: Int) {
        precondition(frames >> UInt64(order) < UInt64(Self.none), "too many blocks for 32-bit links")
        self.order = order
        blocks = Int(frames >> UInt64(order))
        next = .allocate(capacity: max(blocks, 1))
        for b in 0..<blocks { (next + b).initialize(to: .init(b + 1 < blocks ? UInt32(b + 1) : Self.none)) }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        headWord = raw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 1)
        head.store(blocks > 0 ? 0 : UInt64(Self.none), ordering: .relaxed)
    }

    deinit {
        next.deallocate()
        UnsafeMutableRawPointer(headWord).deallocate()
    }

    @inline(__always)
    var head: UnsafeAtomic<UInt64> { UnsafeAtomic(at: headWord) }

    @inline(__always)
    func get(order: Int, core: Int) -> UInt64? {
        guard order == self.order else { return nil }
        let head = self.head
        var old = head.load(ordering: .acquiring)
        while true {
            let block = UInt32(truncatingIfNeeded: old)
            if block == Self.none { return nil }
            let after = UnsafeAtomic<UInt32>(at: next + Int(block)).load(ordering: .relaxed)
            let new = ((old >> 32) &+ 1) << 32 | UInt64(after)
            let (done, current) = head.weakCompareExchange(expected: old, desired: new, ordering: .acquiringAndReleasing)
            if done { return UInt64(block) << UInt64(order) }
            old = current
        }
    }

    @inline(__always)
    func put(_ frame: UInt64, order: Int, core: Int) -> Bool {
        guard order == self.order else { return false }
        let block = UInt32(truncatingIfNeeded: frame >> UInt64(order))
        let head = self.head
        let link = UnsafeAtomic<UInt32>(at: next + Int(block))
        var old = head.load(ordering: .relaxed)
        while true {
            link.store(UInt32(truncatingIfNeeded: old), ordering: .relaxed)
            let new = ((old >> 32) &+ 1) << 32 | UInt64(block)
            let (done, current) = head.weakCompareExchange(expected: old, desired: new, ordering: .releasing)
            if done { return true }
            old = current
        }
    }

    /// Walks the list; only meaningful while no operation is in flight.
    var freeFrames: Int {
        var n = 0
        var block = UInt32(truncatingIfNeeded: head.load(ordering: .acquiring))
        while block != Self.none && n <= blocks {
            n += 1
            block = UnsafeAtomic<UInt32>(at: next + Int(block)).load(ordering: .relaxed)
        }
        return n << order
    }

    static func metadataBytes(frames: UInt64, cores: Int) -> Int { Int(frames) * 4 + 64 }
}
