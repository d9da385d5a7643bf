// A thread's set of addresses flushed but not yet written back, for the persistences that write
// back at the fence: cache lines for PmemPersistence, pages for MsyncPersistence. One mechanism,
// C thread-local storage (CPendingLines), for both.

import CPendingLines

/// This thread's pending lines or pages: a small fixed array without duplicates. A full set is
/// written back early (writing back sooner is never less durable; nothing is promised before the
/// fence anyway).
@frozen @usableFromInline
struct PendingSet {
    @usableFromInline let set: UnsafeMutablePointer<llfree_pending_t>

    @inlinable @inline(__always)
    init(_ set: UnsafeMutablePointer<llfree_pending_t>) { self.set = set }

    /// This thread's cache lines, for ``PmemPersistence``.
    @inlinable @inline(__always)
    static var lines: PendingSet { PendingSet(llfree_pending_lines()!) }

    /// This thread's pages, for ``MsyncPersistence``.
    @inlinable @inline(__always)
    static var pages: PendingSet { PendingSet(llfree_pending_pages()!) }

    @inlinable @inline(__always)
    var entries: UnsafeMutablePointer<UInt> { UnsafeMutableRawPointer(set).assumingMemoryBound(to: UInt.self) }

    /// Notes `key` unless it is noted already. A full set is first handed to `writeBack` and
    /// restarts with `key`.
    @inlinable @inline(__always)
    func insert(_ key: UInt, whenFull writeBack: (UnsafeMutableBufferPointer<UInt>) -> Void) {
        let entries = self.entries
        let count = Int(set.pointee.count)
        var i = 0
        while i < count {
            if entries[i] == key { return }
            i += 1
        }
        if count == Int(LLFREE_PENDING_MAX) {
            writeBack(UnsafeMutableBufferPointer(start: entries, count: count))
            entries[0] = key
            set.pointee.count = 1
            return
        }
        entries[count] = key
        set.pointee.count = UInt32(count + 1)
    }

    /// Hands the noted keys to `writeBack` (if any) and forgets them.
    @inlinable @inline(__always)
    func drain(_ writeBack: (UnsafeMutableBufferPointer<UInt>) -> Void) {
        let count = Int(set.pointee.count)
        guard count > 0 else { return }
        writeBack(UnsafeMutableBufferPointer(start: entries, count: count))
        set.pointee.count = 0
    }
}
