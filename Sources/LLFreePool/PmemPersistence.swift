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
///
/// `frames`, the address of frame 0 in this process (the daemon maps the frames too), is where
/// ``zero(frame:count:)`` writes; without it (metadata-only tools) nothing is zeroed.
@frozen
public struct PmemPersistence: Persistence, @unchecked Sendable {
    @usableFromInline let frames: UnsafeMutableRawPointer?

    @inlinable public init(frames: UnsafeMutableRawPointer? = nil) { self.frames = frames }

    /// `pmem_memset_nodrain` of the frames (non-temporal stores or stores and flushes, as
    /// libpmem picks for the size): durable at the next ``fence()``'s drain.
    @inlinable
    public func zero(frame: UInt64, count: Int) -> Bool {
        guard let frames else { return false }
        pmem_memset_nodrain(frames + Int(frame) &* Geometry.frameSize, 0, count &* Geometry.frameSize)
        return true
    }

    /// Nothing to record: the store itself is in the CPU cache, which the fence writes back.
    @inlinable @inline(__always)
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}

    /// Notes the 64-byte line holding `address` for write-back at the next fence.
    @inlinable @inline(__always)
    public func flush(_ address: UnsafeMutableRawPointer) {
        // Full: write these back now (still durable only at the fence).
        PendingSet.lines.insert(UInt(bitPattern: address) & ~UInt(63), whenFull: Self.writeBack)
    }

    /// `pmem_flush` of every noted line, then `pmem_drain`: every line this thread flushed is
    /// durable.
    @inlinable @inline(__always)
    public func fence() {
        PendingSet.lines.drain(Self.writeBack)
        pmem_drain()
    }

    @inlinable @inline(__always)
    static func writeBack(_ lines: UnsafeMutableBufferPointer<UInt>) {
        var i = 0
        while i < lines.count {
            pmem_flush(UnsafeRawPointer(bitPattern: lines[i]), 64)
            i += 1
        }
    }
}
