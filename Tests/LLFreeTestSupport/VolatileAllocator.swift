// A real LLFree allocator over malloc'd metadata (volatile persistence), for testing the
// request processor without a pool file.

import LLFree
import LLFreeServer

/// A volatile allocator and the memory it lives in.
public final class VolatileAllocator {
    public let region: UnsafeMutableRawPointer
    public let llfree: LLFree<VolatilePersistence>

    public init(frames: UInt64, treeChildren: Int = 8, cores: Int = 2) throws {
        let geometry = try Geometry(frames: frames, treeChildren: treeChildren)
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        llfree = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: cores)
    }

    deinit { region.deallocate() }

    /// A description of a pool for a server over a volatile allocator.
    public static let pool = PoolDescription(path: "/tmp/test.pool", uuid: Array(repeating: 7, count: 16), framesOffset: 1 << 21,
                                             durability: .volatile)
}
