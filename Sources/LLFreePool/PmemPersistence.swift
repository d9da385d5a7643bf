// The persistence of a libpmem mapping (real persistent memory, or a file mapping in cpu-cache
// mode): every truth line is written back out of the CPU cache, one drain per operation. Inlined
// into the allocator so a get or put pays for the flushes and the fence, not for calls through a
// seam.

import CLibPmem
import CPendingLines
import LLFree

/// Writes lines back with `pmem_flush` and fences with `pmem_drain`.
///
/// `flush` only notes the line (per thread, without duplicates); `fence` writes every noted line
/// back once and then drains. The allocator may store to a line again after flushing it (a batch
/// takes many frames of one bitfield row); on CPUs whose write-back evicts the line, writing it
/// back at each flush would turn each of those stores into a cache miss. Durability is the same:
/// nothing is promised before the fence.
///
/// Right for mappings where `pmem_is_pmem` is true, and for the `cpu-cache` durability mode on
/// any other file mapping (then it survives a process crash, not a power cut).
@frozen
public struct PmemPersistence: Persistence, Sendable {
    @inlinable public init() {}

    /// Nothing to record: the store itself is in the CPU cache, which the fence writes back.
    @inlinable @inline(__always)
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}

    /// Notes the 64-byte line holding `address` for write-back at the next fence.
    @inlinable @inline(__always)
    public func flush(_ address: UnsafeMutableRawPointer) {
        let line = UInt(bitPattern: address) & ~UInt(63)
        let pending = llfree_pending()!
        let lines = UnsafeMutableRawPointer(pending).assumingMemoryBound(to: UInt.self)
        let count = Int(pending.pointee.count)
        var i = 0
        while i < count {
            if lines[i] == line { return }
            i += 1
        }
        if count == Int(LLFREE_PENDING_MAX) {
            // Full: write these back now (still durable only at the fence).
            Self.writeBack(lines, count)
            lines[0] = line
            pending.pointee.count = 1
            return
        }
        lines[count] = line
        pending.pointee.count = UInt32(count + 1)
    }

    /// `pmem_flush` of every noted line, then `pmem_drain`: every line this thread flushed is
    /// durable.
    @inlinable @inline(__always)
    public func fence() {
        let pending = llfree_pending()!
        let count = Int(pending.pointee.count)
        if count > 0 {
            Self.writeBack(UnsafeMutableRawPointer(pending).assumingMemoryBound(to: UInt.self), count)
            pending.pointee.count = 0
        }
        pmem_drain()
    }

    @inlinable @inline(__always)
    static func writeBack(_ lines: UnsafeMutablePointer<UInt>, _ count: Int) {
        var i = 0
        while i < count {
            pmem_flush(UnsafeRawPointer(bitPattern: lines[i]), 64)
            i += 1
        }
    }
}
