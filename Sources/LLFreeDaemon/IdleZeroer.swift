// The daemon's idle zeroer: one free huge frame at a time, while no request is served (the pacing
// is ServerService's), it makes free huge frames known zero, and returns to the host those beyond
// the reserve (`zero.reserve`): a free huge frame that is populated while more than the reserve
// are is punched out, else zeroed in place if not known zero; a hole not known zero (a crash
// cleared its marks) is written with zeros while the reserve is not full, else marked as it is.
// It keeps a census of the free huge frames (populated, reclaimed) for the metrics.

import Atomics
import LLFree
import LLFreePool

/// Makes free huge frames known zero and reclaims those beyond the reserve.
final class IdleZeroer<P: Persistence>: @unchecked Sendable {
    let llfree: LLFree<P>
    /// nil where the frames cannot be punched (a device DAX device): only zeros are written.
    let reclaimer: FramesReclaimer?
    /// Free huge frames kept populated.
    let reserve: Int
    /// Each step runs inside it, so that counts and an out-of-memory get wait it out.
    let gate: ZeroerGate
    /// Free huge frames populated and reclaimed, as of the last census.
    let populated = ManagedAtomic<Int>(0)
    let reclaimed = ManagedAtomic<Int>(0)
    /// Where the reclaimed count is published for the stats reply (the server's counters).
    var published: ManagedAtomic<UInt64>?
    /// Only the zeroing task runs ``step()``; these are its own.
    private var cursor = 0
    private var populatedFree = 0
    private var sinceCensus = 0

    init(_ llfree: LLFree<P>, gate: ZeroerGate, reclaimer: FramesReclaimer?, reserveBytes: UInt64) {
        self.llfree = llfree
        self.gate = gate
        self.reclaimer = reclaimer
        self.reserve = Int(reserveBytes / UInt64(Geometry.childFrames * Geometry.frameSize))
    }

    /// Free huge frames that are populated and reclaimed (a hole), counted now; from any thread.
    func snapshot() -> (populated: Int, reclaimed: Int) {
        let counts: (populated: Int, reclaimed: Int) = gate.quiet { reclaimer?.census(llfree) ?? (llfree.freeHugeFrames, 0) }
        populated.store(counts.populated, ordering: .relaxed)
        reclaimed.store(counts.reclaimed, ordering: .relaxed)
        published?.store(UInt64(counts.reclaimed), ordering: .relaxed)
        return counts
    }

    /// The zeroing task's census: its own count of populated free huge frames follows it.
    private func census() {
        populatedFree = snapshot().populated
        sinceCensus = 0
    }

    /// Handles one free huge frame; false when there is nothing to do.
    func step() -> Bool {
        if sinceCensus == 0 || sinceCensus >= 64 { census() }
        sinceCensus += 1
        let reserve = self.reserve
        let populatedFree = self.populatedFree
        let reclaimer = self.reclaimer
        let llfree = self.llfree, cursor = self.cursor
        let result = gate.step { llfree.zeroNext(core: 0, from: cursor, choose: { child, knownZero in
            guard let reclaimer else { return knownZero ? .skip : .write }
            if reclaimer.isPopulated(child) {
                // Beyond the reserve it goes back to the host; within it, it is zeroed in place.
                if populatedFree > reserve { return .reclaim }
                return knownZero ? .skip : .write
            }
            // A hole not marked known zero (a crash cleared the marks): writing zeros would
            // populate it, which only a reserve not yet full wants; else it is marked as it is.
            if knownZero { return .skip }
            return populatedFree < reserve ? .write : .reclaim
        }, reclaim: { reclaimer?.reclaim($0) ?? false }) }
        guard let result else {
            self.cursor = 0
            census()
            return false
        }
        if result.reclaimed {
            // A punch of a hole changes nothing populated; the next census corrects the count.
            self.populatedFree = max(0, self.populatedFree - 1)
            populated.store(self.populatedFree, ordering: .relaxed)
            reclaimed.wrappingIncrement(ordering: .relaxed)
            published?.wrappingIncrement(ordering: .relaxed)
        }
        self.cursor = result.child + 1
        return true
    }
}
