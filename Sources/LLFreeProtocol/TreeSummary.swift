// The per-tree occupancy summary of a stats reply: bounded in size whatever the pool's size,
// unlike a per-tree list.

/// How full the pool's trees are.
public struct TreeSummary: Sendable, Equatable {
    /// Trees in the pool.
    public var trees: UInt32
    /// Trees with every frame free.
    public var free: UInt32
    /// Trees with no frame free.
    public var full: UInt32
    /// Trees with some frames free and some allocated.
    public var partial: UInt32
    /// Trees currently reserved by a core.
    public var reserved: UInt32
    /// Partial trees by allocated fraction: bucket `i` counts those with an allocated fraction
    /// in `[i/8, (i+1)/8)`. Always 8 entries.
    public var occupancy: [UInt32]

    public static let buckets = 8

    public init(trees: UInt32 = 0, free: UInt32 = 0, full: UInt32 = 0, partial: UInt32 = 0, reserved: UInt32 = 0,
                occupancy: [UInt32] = Array(repeating: 0, count: TreeSummary.buckets)) {
        self.trees = trees
        self.free = free
        self.full = full
        self.partial = partial
        self.reserved = reserved
        self.occupancy = occupancy
    }
}
