// The persistence of a plain file mapping in msync mode: a flush only notes the line's page in
// this thread's pending set; the fence writes the noted pages back with pmem_msync, adjacent pages
// merged into one call, so an operation that touched one page costs one msync.

import LLFree
#if canImport(Glibc)
import Glibc
#endif

/// Makes flushed lines durable on a non-pmem file by `msync(2)` (through `pmem_msync`) at the fence.
///
/// The pending pages are per thread (``PendingSet/pages``), matching the seam's contract that a fence
/// makes durable what *this* thread flushed. A failing msync means acknowledged state may not be on
/// the media: the process stops rather than acknowledge it (the pool is then dirty and recovers).
///
/// `frames`, the address of frame 0 in this process, is where ``zero(frame:count:)`` writes.
public struct MsyncPersistence: Persistence, @unchecked Sendable {
    let frames: UnsafeMutableRawPointer?

    public init(frames: UnsafeMutableRawPointer? = nil) { self.frames = frames }

    /// memset, and the frames' pages noted for the next fence's msync.
    public func zero(frame: UInt64, count: Int) -> Bool {
        guard let frames else { return false }
        let start = frames + Int(frame) * Geometry.frameSize
        memset(start, 0, count * Geometry.frameSize)
        var page = UInt(bitPattern: start) & ~(Self.pageSize - 1)
        let end = UInt(bitPattern: start) + UInt(count * Geometry.frameSize)
        while page < end {
            PendingSet.pages.insert(page, whenFull: Self.sync)
            page += Self.pageSize
        }
        return true
    }

    /// Nothing to record: msync writes back the whole page, whatever stores it holds.
    @inlinable @inline(__always)
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}

    /// Notes the page of `address` for the next fence of this thread.
    public func flush(_ address: UnsafeMutableRawPointer) {
        PendingSet.pages.insert(UInt(bitPattern: address) & ~(Self.pageSize - 1), whenFull: Self.sync)
    }

    /// msyncs every page this thread noted since its last fence.
    public func fence() {
        PendingSet.pages.drain(Self.sync)
    }

    static let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))

    /// msyncs `pages`, adjacent ones in one call.
    static func sync(_ pages: UnsafeMutableBufferPointer<UInt>) {
        var pages = pages
        pages.sort()
        var start = pages[0]
        var end = start + pageSize
        for page in pages.dropFirst() {
            if page == end { end += pageSize; continue }
            msync(start, end)
            start = page
            end = page + pageSize
        }
        msync(start, end)
    }

    private static func msync(_ start: UInt, _ end: UInt) {
        do {
            try Pmem.msync(UnsafeRawPointer(bitPattern: start)!, length: Int(end - start))
        } catch {
            // The seam cannot report failure, and acknowledging an operation that is not durable
            // would break the pool's promise; stopping leaves a dirty pool that recovery repairs.
            fatalError("llfreed: \(error) on pages \(start)..<\(end); cannot make the pool durable")
        }
    }
}
