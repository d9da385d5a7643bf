// The one interface the benchmark drives: LLFree and every baseline conform to it, and the
// timed loops take it as a generic parameter, so each loop is specialised per allocator and
// no existential or witness-table call sits inside a measurement.

/// A page-frame allocator as the benchmark sees it: numbered frames, runs of 2^order frames.
///
/// Conforming types are final classes whose operations are safe to call from several threads
/// at once, each thread passing its own core index.
protocol BenchAllocator: AnyObject, Sendable {
    /// Name shown in the result table and in `--json` lines.
    static var name: String { get }

    /// Creates an allocator managing `frames` free frames for `cores` cores. `order` is the order
    /// the benchmark will use: allocators that only know one block size (the free lists) are
    /// formatted with blocks of that order.
    init(frames: UInt64, cores: Int, order: Int)

    /// Allocates a naturally aligned run of 2^`order` frames; nil when none is left.
    func get(order: Int, core: Int) -> UInt64?

    /// Frees the run of 2^`order` frames at `frame`; false when the allocator refused it.
    func put(_ frame: UInt64, order: Int, core: Int) -> Bool

    /// Free frames now (exact only while no operation is in flight; not for timed code).
    var freeFrames: Int { get }

    /// Bytes of metadata this allocator needs to manage `frames` frames with `cores` cores,
    /// persistent and volatile together.
    static func metadataBytes(frames: UInt64, cores: Int) -> Int

    /// Calls made to a persistence implementation so far, for allocators that have one.
    func persistenceCounts() -> PersistenceCounts?
}

extension BenchAllocator {
    func persistenceCounts() -> PersistenceCounts? { nil }
}
