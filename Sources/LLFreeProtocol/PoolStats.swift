// The body of a stats reply: the pool's free frames, the daemon's counters, and the per-tree
// occupancy summary.

// The body of a stats reply: the pool's free frames and the daemon's counters.

/// A snapshot of the pool and the daemon. Free counts are exact when no operation is in flight.
public struct PoolStats: Sendable, Equatable {
    /// Frames in the pool.
    public var frames: UInt64
    /// Free frames.
    public var freeFrames: UInt64
    /// Free huge (order 9) frames.
    public var freeHugeFrames: UInt64
    /// Connections accepted since start.
    public var clientsAccepted: UInt64
    /// Connections refused by the access policy since start.
    public var clientsRefused: UInt64
    /// Requests answered since start (errors included).
    public var operationsServed: UInt64
    /// Frames handed out by gets since start.
    public var framesAllocated: UInt64
    /// Frames freed by puts since start.
    public var framesFreed: UInt64
    /// Requests answered with an error, and put frames refused, since start.
    public var errors: UInt64
    /// Connections open now.
    public var clientsConnected: UInt32
    /// Tree occupancy.
    public var trees: TreeSummary
    /// Free naturally aligned runs per order: `freeRuns[o]` for order `o`, 0...maxOrder.
    public var freeRuns: [UInt64]
    /// Free huge frames whose memory went back to the host (holes punched into the frames
    /// file), as of the idle zeroer's last census; the other free huge frames are populated.
    public var reclaimedHugeFrames: UInt32

    public init(frames: UInt64 = 0, freeFrames: UInt64 = 0, freeHugeFrames: UInt64 = 0, clientsAccepted: UInt64 = 0,
                clientsRefused: UInt64 = 0, operationsServed: UInt64 = 0, framesAllocated: UInt64 = 0,
                framesFreed: UInt64 = 0, errors: UInt64 = 0, clientsConnected: UInt32 = 0,
                trees: TreeSummary = TreeSummary(), freeRuns: [UInt64] = [], reclaimedHugeFrames: UInt32 = 0) {
        self.reclaimedHugeFrames = reclaimedHugeFrames
        self.frames = frames
        self.freeFrames = freeFrames
        self.freeHugeFrames = freeHugeFrames
        self.clientsAccepted = clientsAccepted
        self.clientsRefused = clientsRefused
        self.operationsServed = operationsServed
        self.framesAllocated = framesAllocated
        self.framesFreed = framesFreed
        self.errors = errors
        self.clientsConnected = clientsConnected
        self.trees = trees
        self.freeRuns = freeRuns
    }
}

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
