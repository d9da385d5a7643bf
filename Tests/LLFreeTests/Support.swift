// Helpers shared by the core's tests: an allocator over its own aligned memory, and a seeded
// random source so that every failure replays from its seed.

import LLFree

/// A volatile allocator together with the metadata region it lives in.
final class TestAllocator {
    let region: UnsafeMutableRawPointer
    let llfree: LLFree<VolatilePersistence>
    var geometry: Geometry { llfree.geometry }

    init(frames: UInt64, treeChildren: Int = 32, cores: Int = 1) throws {
        let geometry = try Geometry(frames: frames, treeChildren: treeChildren)
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        region.initializeMemory(as: UInt8.self, repeating: 0xA5, count: geometry.metadataSize)
        llfree = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: cores)
    }

    deinit { region.deallocate() }
}

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
