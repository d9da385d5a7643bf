// Baseline: one free list of equally sized blocks behind one spin lock, the simplest frame
// allocator there is. The links live in a per-block array, as struct page holds them in Linux.

/// A LIFO free list of blocks of one order, protected by a ``SpinLock``. It knows only the
/// order it was formatted with, and does not detect double frees.
final class LockedFreeList: BenchAllocator, @unchecked Sendable {
    static var name: String { "LockedFreeList" }

    static let none = UInt32.max
    let order: Int
    let blocks: Int
    /// next[block] is the block after it in the list, or `none`.
    let next: UnsafeMutablePointer<UInt32>
    let lock = SpinLock.make()
    /// Head and count, written only under the lock. Behind a pointer rather than class `var`s,
    /// whose accesses would carry dynamic exclusivity checks.
    let state: UnsafeMutablePointer<State>

    struct State {
        var head: UInt32
        var count: Int
    }

    init(frames: UInt64, cores: Int, order: Int) {
        precondition(frames >> UInt64(order) < UInt64(Self.none), "too many blocks for 32-bit links")
        self.order = order
        blocks = Int(frames >> UInt64(order))
        next = .allocate(capacity: max(blocks, 1))
        for b in 0..<blocks { next[b] = b + 1 < blocks ? UInt32(b + 1) : Self.none }
        state = .allocate(capacity: 1)
        state.initialize(to: State(head: blocks > 0 ? 0 : Self.none, count: blocks))
    }

    deinit {
        next.deallocate()
        state.deallocate()
        lock.destroy()
    }

    @inline(__always)
    func get(order: Int, core: Int) -> UInt64? {
        guard order == self.order else { return nil }
        lock.lock()
        let block = state.pointee.head
        if block == Self.none {
            lock.unlock()
            return nil
        }
        state.pointee.head = next[Int(block)]
        state.pointee.count &-= 1
        lock.unlock()
        return UInt64(block) << UInt64(order)
    }

    @inline(__always)
    func put(_ frame: UInt64, order: Int, core: Int) -> Bool {
        guard order == self.order else { return false }
        let block = UInt32(truncatingIfNeeded: frame >> UInt64(order))
        lock.lock()
        next[Int(block)] = state.pointee.head
        state.pointee.head = block
        state.pointee.count &+= 1
        lock.unlock()
        return true
    }

    var freeFrames: Int {
        lock.lock()
        defer { lock.unlock() }
        return state.pointee.count << order
    }

    static func metadataBytes(frames: UInt64, cores: Int) -> Int { Int(frames) * 4 + 64 }
}
