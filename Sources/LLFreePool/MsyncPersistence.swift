// The persistence of a plain file mapping in msync mode: a flush only notes the line's page in
// this thread's pending set; the fence writes the noted pages back with pmem_msync, adjacent pages
// merged into one call, so an operation that touched one page costs one msync.

import LLFree

/// Makes flushed lines durable on a non-pmem file by `msync(2)` (through `pmem_msync`) at the fence.
///
/// The pending pages are per thread (``MsyncPending``), matching the seam's contract that a fence
/// makes durable what *this* thread flushed. A failing msync means acknowledged state may not be on
/// the media: the process stops rather than acknowledge it (the pool is then dirty and recovers).
public struct MsyncPersistence: Persistence, Sendable {
    public init() {}

    /// Nothing to record: msync writes back the whole page, whatever stores it holds.
    @inlinable @inline(__always)
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}

    /// Notes the page of `address` for the next fence of this thread.
    public func flush(_ address: UnsafeMutableRawPointer) {
        MsyncPending.current.add(UnsafeRawPointer(address))
    }

    /// msyncs every page this thread noted since its last fence.
    public func fence() {
        MsyncPending.current.sync()
    }
}
