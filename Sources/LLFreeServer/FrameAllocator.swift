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
    /// Allocates up to `frames.count` runs for `owner`; returns how many and, if fewer, why.
    func get(order: Int, core: Int, kind: Kind, owner: OwnerID, into frames: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, error: LLFreeError?)
    /// Frees each run in `frames` that `owner` holds (``Owners/any``: whoever holds it); calls
    /// `failed` for each refused one; returns how many were freed.
    func put(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, owner: OwnerID, failed: (Int, LLFreeError) -> Void) -> Int
    /// Whether frames carry owner tags.
    var hasOwners: Bool { get }
    /// Frames `owner` holds.
    func held(by owner: OwnerID) -> Int
    /// The runs `owner` holds from frame `from` on, at most `limit`, and where to continue.
    func runs(of owner: OwnerID, from: UInt64, limit: Int) -> (runs: [OwnedRun], next: UInt64?)
    /// Whether every tree's tags are settled.
    var isSettled: Bool { get }
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
