// The pool's allocator as the server sees it, one non-generic class per persistence type. The
// server (another module, not inlinable) calls its allocator through the FrameAllocator witness
// table; a witness of a generic type would run LLFree's code generic over the persistence, with
// every store, flush and fence a dynamic call. The witnesses of these concrete classes are
// compiled here, specialised: LLFree's get and put inline with their persistence's flush and
// fence, and a request costs one indirect call into them.

import LLFree
import LLFreePool
import LLFreeServer

/// A ``FrameAllocator`` that forwards to an ``LLFree`` of one concrete persistence type.
public protocol ServedAllocator: FrameAllocator {
    associatedtype P: Persistence
    var llfree: LLFree<P> { get }
    /// Waits out the idle zeroer's step where every free frame must be seen.
    var zeroerGate: ZeroerGate { get }
}

extension ServedAllocator {
    public var geometry: Geometry { llfree.geometry }
    public var cores: Int { llfree.cores }

    @inline(__always)
    public func get(order: Int, core: Int, kind: Kind, owner: OwnerID, into frames: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, error: LLFreeError?) {
        let got = llfree.get(order: order, core: core, kind: kind, owner: owner, into: frames)
        guard case .outOfMemory? = got.error else { return got }
        return getAfterZeroer(order: order, core: core, kind: kind, owner: owner, into: frames, got: got.count)
    }

    /// Out of memory: the idle zeroer may hold the free huge frame that was missing. After its
    /// step (if one is in progress) the rest is asked for once more.
    @inline(never)
    func getAfterZeroer(order: Int, core: Int, kind: Kind, owner: OwnerID, into frames: UnsafeMutableBufferPointer<UInt64>,
                        got: Int) -> (count: Int, error: LLFreeError?) {
        zeroerGate.quiet {
            let rest = llfree.get(order: order, core: core, kind: kind, owner: owner,
                                  into: UnsafeMutableBufferPointer(rebasing: frames[got...]))
            return (got + rest.count, rest.error)
        }
    }

    @inline(__always)
    public func put(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, owner: OwnerID, failed: (Int, LLFreeError) -> Void) -> Int {
        llfree.put(frames: frames, order: order, core: core, owner: owner, failed: failed)
    }

    public var hasOwners: Bool { llfree.hasOwners }
    public func held(by owner: OwnerID) -> Int { llfree.held(by: owner) }
    public func runs(of owner: OwnerID, from: UInt64, limit: Int) -> (runs: [OwnedRun], next: UInt64?) { llfree.runs(of: owner, from: from, limit: limit) }
    public var isSettled: Bool { llfree.isSettled }

    public func isFree(_ frame: UInt64, order: Int) throws(LLFreeError) -> Bool { try llfree.isFree(frame, order: order) }
    // The counts see the frame the idle zeroer works on as free: they wait out its step.
    public var freeFrames: Int { zeroerGate.quiet { llfree.freeFrames } }
    public func freeRuns(order: Int) -> Int { zeroerGate.quiet { llfree.freeRuns(order: order) } }
    public var freeHugeFrames: Int { zeroerGate.quiet { llfree.freeHugeFrames } }
    public func treeStats() -> [TreeStats] { llfree.treeStats() }
}

/// The allocator of a pool mapped as persistent memory (libpmem flush and drain).
public final class PmemAllocator: ServedAllocator {
    public let llfree: LLFree<PmemPersistence>
    public let zeroerGate = ZeroerGate()
    public init(_ llfree: LLFree<PmemPersistence>) { self.llfree = llfree }
}

/// The allocator of a pool made durable by msync.
public final class MsyncAllocator: ServedAllocator {
    public let llfree: LLFree<MsyncPersistence>
    public let zeroerGate = ZeroerGate()
    public init(_ llfree: LLFree<MsyncPersistence>) { self.llfree = llfree }
}
