// The seam between the server and whatever allocator it serves: the operations of LLFree the
// server needs. The server is generic over the allocator type and calls it through this
// protocol's witnesses; the daemon serves one concrete class per persistence type (its
// ServedAllocator), whose witnesses run LLFree specialised. LLFree conforms as it is too (its
// witnesses generic over the persistence), which is what in-process tests on a volatile
// allocator use.

import LLFree

/// An allocator the server can serve from. Every mutating operation must be durable when it
/// returns (LLFree fences before returning).
public protocol FrameAllocator: AnyObject, Sendable {
    /// The geometry of the frames served.
    var geometry: Geometry { get }
    /// Cores the allocator has reservations for; the server uses one per event loop.
    var cores: Int { get }
    /// Allocates up to `frames.count` runs; returns how many and, if fewer, why.
    func get(order: Int, core: Int, kind: Kind, into frames: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, error: LLFreeError?)
    /// Frees each run in `frames`; calls `failed` for each refused one; returns how many were freed.
    func put(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, failed: (Int, LLFreeError) -> Void) -> Int
    /// Whether the run of 2^`order` frames at `frame` is free.
    func isFree(_ frame: UInt64, order: Int) throws(LLFreeError) -> Bool
    /// Free frames.
    var freeFrames: Int { get }
    /// Free runs of `order`.
    func freeRuns(order: Int) -> Int
    /// Free huge frames.
    var freeHugeFrames: Int { get }
    /// Per-tree occupancy.
    func treeStats() -> [TreeStats]
}

extension LLFree: FrameAllocator {}
