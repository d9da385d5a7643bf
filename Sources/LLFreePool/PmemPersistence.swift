// The persistence of a libpmem mapping (real persistent memory, or a file mapping in cpu-cache
// mode): every truth line is flushed out of the CPU cache, one drain per operation. Inlined into
// the allocator so a get or put pays for the flushes and the fence, not for calls through a seam.

import CLibPmem
import LLFree
#if canImport(Glibc)
import Glibc
#endif

/// Flushes with `pmem_flush` (one 64-byte line) and fences with `pmem_drain`.
///
/// Right for mappings where `pmem_is_pmem` is true, and for the `cpu-cache` durability mode on
/// any other file mapping (then it survives a process crash, not a power cut).
@frozen
public struct PmemPersistence: Persistence, Sendable {
    @inlinable public init() {}

    /// Nothing to record: the store itself is in the CPU cache, which `flush` writes back.
    @inlinable @inline(__always)
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}

    /// `pmem_flush` of the 64-byte line holding `address`.
    @inlinable @inline(__always)
    public func flush(_ address: UnsafeMutableRawPointer) {
        pmem_flush(address, 64)
    }

    /// `pmem_drain`: every line this thread flushed is durable.
    @inlinable @inline(__always)
    public func fence() {
        pmem_drain()
    }

    @inlinable @inline(__always)
    public func spin() {
        sched_yield()
    }
}
