// One allocator in the comparison, type-erased only at the outermost level: the closure calls
// the harness specialised for that allocator type, so the timed loops stay generic.

import LLFree

/// An allocator the paper command runs, by name.
struct Contender: Sendable {
    let name: String
    /// Metadata bytes for (frames, cores).
    let metadataBytes: @Sendable (UInt64, Int) -> Int
    /// One run of one benchmark on a fresh instance.
    let run: @Sendable (Harness.Config) throws(Harness.Failure) -> Sample

    static func of<A: BenchAllocator>(_ type: A.Type) -> Contender {
        Contender(name: A.name,
                  metadataBytes: { frames, cores in A.metadataBytes(frames: frames, cores: cores) },
                  run: { config throws(Harness.Failure) in try Harness.measure(A.self, config) })
    }

    /// Everything the paper command compares: LLFree with both persistence types first.
    static let all: [Contender] = [
        .of(LLFreeAllocator<VolatilePersistence>.self),
        .of(LLFreeAllocator<CountingPersistence>.self),
        .of(LockedFreeList.self),
        .of(LockFreeFreeList.self),
        .of(LockedBuddy.self),
    ]
}
