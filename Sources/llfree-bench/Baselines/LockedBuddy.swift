// Baseline: a buddy allocator after Linux's (mm/page_alloc.c): one doubly linked free list per
// order 0...10 under one lock (the zone lock), per-frame metadata like struct page marking the
// heads of free blocks with their order, allocation by taking the smallest sufficient block and
// splitting it down ("expand"), freeing by merging with the buddy at `frame ^ (1 << order)`
// while that buddy is a free block of the same order (__free_one_page). The per-CPU page lists
// in front of Linux's order-0 path are left out: they are a cache, not the buddy allocator.

/// A locked binary buddy allocator over frame numbers, orders 0 through ``maxOrder``.
final class LockedBuddy: BenchAllocator, @unchecked Sendable {
    static var name: String { "LockedBuddy" }

    /// Largest block order (Linux's MAX_ORDER - 1 = 10, 4 MiB).
    static let maxOrder = 10
    static let none = UInt32.max
    /// `order` of a frame that is not the head of a free block.
    static let notFree: UInt8 = 0xFF

    /// Per-frame metadata, the part of struct page the buddy allocator uses.
    struct Page {
        var next: UInt32
        var prev: UInt32
        /// Order of the free block this frame heads, or `notFree`.
        var order: UInt8
    }

    let frames: Int
    let pages: UnsafeMutablePointer<Page>
    /// One list head per order (`none` = empty); written only under the lock.
    let heads: UnsafeMutablePointer<UInt32>
    let counts: UnsafeMutablePointer<Int>
    let lock = SpinLock.make()

    init(frames: UInt64, cores: Int, order: Int) {
        precondition(frames < UInt64(Self.none), "too many frames for 32-bit links")
        self.frames = Int(frames)
        pages = .allocate(capacity: max(self.frames, 1))
        pages.initialize(repeating: Page(next: Self.none, prev: Self.none, order: Self.notFree), count: max(self.frames, 1))
        heads = .allocate(capacity: Self.maxOrder + 1)
        heads.initialize(repeating: Self.none, count: Self.maxOrder + 1)
        counts = .allocate(capacity: Self.maxOrder + 1)
        counts.initialize(repeating: 0, count: Self.maxOrder + 1)
        // Cover the frames with the largest naturally aligned blocks, lowest address first
        // at the head of each list (push in reverse).
        var blocks: [(Int, Int)] = []
        var f = 0
        while f < self.frames {
            var o = Self.maxOrder
            while o > 0 && (f & ((1 << o) - 1) != 0 || f + (1 << o) > self.frames) { o -= 1 }
            blocks.append((f, o))
            f += 1 << o
        }
        for (frame, o) in blocks.reversed() { push(frame, o) }
    }

    deinit {
        pages.deallocate()
        heads.deallocate()
        counts.deallocate()
        lock.destroy()
    }

    @inline(__always)
    func push(_ frame: Int, _ order: Int) {
        let head = heads[order]
        pages[frame] = Page(next: head, prev: Self.none, order: UInt8(order))
        if head != Self.none { pages[Int(head)].prev = UInt32(frame) }
        heads[order] = UInt32(frame)
        counts[order] &+= 1
    }

    @inline(__always)
    func remove(_ frame: Int, _ order: Int) {
        let page = pages[frame]
        if page.prev != Self.none { pages[Int(page.prev)].next = page.next } else { heads[order] = page.next }
        if page.next != Self.none { pages[Int(page.next)].prev = page.prev }
        pages[frame].order = Self.notFree
        counts[order] &-= 1
    }

    @inline(__always)
    func get(order: Int, core: Int) -> UInt64? {
        guard order >= 0, order <= Self.maxOrder else { return nil }
        lock.lock()
        var o = order
        while o <= Self.maxOrder && heads[o] == Self.none { o &+= 1 }
        if o > Self.maxOrder {
            lock.unlock()
            return nil
        }
        let frame = Int(heads[o])
        remove(frame, o)
        // expand(): hand the upper halves back to the lower lists.
        while o > order {
            o &-= 1
            push(frame &+ (1 << o), o)
        }
        lock.unlock()
        return UInt64(frame)
    }

    @inline(__always)
    func put(_ frame: UInt64, order: Int, core: Int) -> Bool {
        guard order >= 0, order <= Self.maxOrder, frame < UInt64(frames),
              frame & ((1 << UInt64(order)) - 1) == 0 else { return false }
        var f = Int(frame)
        var o = order
        lock.lock()
        if pages[f].order != Self.notFree {
            lock.unlock()
            return false  // already the head of a free block: double free
        }
        // __free_one_page(): merge while the buddy is a free block of the same order.
        while o < Self.maxOrder {
            let buddy = f ^ (1 << o)
            if buddy >= frames || pages[buddy].order != UInt8(o) { break }
            remove(buddy, o)
            f &= ~(1 << o)
            o &+= 1
        }
        push(f, o)
        lock.unlock()
        return true
    }

    var freeFrames: Int {
        lock.lock()
        defer { lock.unlock() }
        var n = 0
        for o in 0...Self.maxOrder { n += counts[o] << o }
        return n
    }

    static func metadataBytes(frames: UInt64, cores: Int) -> Int {
        Int(frames) * MemoryLayout<Page>.stride + (maxOrder + 1) * 16 + 64
    }
}
