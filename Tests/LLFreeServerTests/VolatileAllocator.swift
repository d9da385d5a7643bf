// A real LLFree allocator over malloc'd metadata (volatile persistence), for testing the
// request processor without a pool file.

import LLFree

/// A volatile allocator and the memory it lives in.
final class VolatileAllocator {
    let region: UnsafeMutableRawPointer
    let llfree: LLFree<VolatilePersistence>

    init(frames: UInt64, treeChildren: Int = 8, cores: Int = 2) throws {
        let geometry = try Geometry(frames: frames, treeChildren: treeChildren)
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        llfree = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: cores)
    }

    deinit { region.deallocate() }
}
