// The upper level's part in owners: the settle gate of each tree (no frame of a tree whose tags
// are not settled is handed out or freed), the frames each owner holds, and listing.

import Atomics

/// States of a tree's settle gate.
@usableFromInline
enum Settle {
    @usableFromInline static let unsettled: UInt8 = 0
    @usableFromInline static let settling: UInt8 = 1
    @usableFromInline static let settled: UInt8 = 2
}

extension LLFree {
    /// Whether the allocator tags frames with owners.
    public var hasOwners: Bool { geometry.owners }

    @inlinable @inline(__always)
    func check(owner: OwnerID) throws(LLFreeError) {
        if usage != nil && (owner == Owners.any || owner > Owners.maxOwner) { throw badOwner(owner) }
    }

    @usableFromInline @inline(never)
    func badOwner(_ owner: OwnerID) -> LLFreeError {
        .invalidArgument("owner \(owner) is outside 1...\(Owners.maxOwner)")
    }

    /// Adds `frames` (negative: removes) to what `owner` holds.
    @inlinable @inline(__always)
    func counted(_ owner: OwnerID, _ frames: Int) {
        guard let usage, owner != Owners.any, frames != 0 else { return }
        UnsafeAtomic<Int>(at: usage + Int(owner)).wrappingIncrement(by: frames, ordering: .relaxed)
    }

    /// Who holds the run at `frame` that a put by `owner` frees (read before the put claims it).
    @inlinable @inline(__always)
    func holderOf(_ frame: UInt64, order: Int, owner: OwnerID) -> OwnerID {
        guard usage != nil else { return Owners.any }
        if owner != Owners.any { return owner }
        let child = Int(frame / UInt64(Geometry.childFrames))
        if order >= Geometry.hugeOrder || lower.child(child).huge { return lower.hugeTag(child).owner }
        return lower.frameTag(frame).owner
    }

    /// Frames `owner` holds. Exact once every tree is settled (``isSettled``) and no get or put of
    /// it is in flight.
    public func held(by owner: OwnerID) -> Int {
        guard let usage, owner != Owners.any, owner <= Owners.maxOwner else { return 0 }
        return UnsafeAtomic<Int>(at: usage + Int(owner)).load(ordering: .relaxed)
    }

    // MARK: Settle gate

    /// Settles tree `t` if that has not happened yet; waits if another thread is settling it.
    @inlinable @inline(__always)
    func ensureSettled(_ t: Int) {
        guard let settled else { return }
        if UnsafeAtomic<UInt8>(at: settled + t).load(ordering: .acquiring) != Settle.settled { settleSlow(t) }
    }

    @usableFromInline @inline(never)
    func settleSlow(_ t: Int) {
        let gate = UnsafeAtomic<UInt8>(at: settled.unsafelyUnwrapped + t)
        let waiting = Yielding()
        while true {
            let (won, current) = gate.compareExchange(expected: Settle.unsettled, desired: Settle.settling, ordering: .acquiringAndReleasing)
            if won { break }
            if current == Settle.settled { return }
            waiting.spin()
        }
        let range = geometry.childRange(tree: t)
        let before = lower.counted(range)
        var found: [(OwnerID, Int)] = []
        let report = lower.settle(range, keep: keep ?? { _ in true }, count: { found.append(($0, $1)) }, clean: settleClean)
        for (owner, frames) in found { counted(owner, frames) }
        // Frames settling freed join the tree's budget (nobody else touches the tree meanwhile).
        let freed = lower.counted(range) - before
        if freed > 0 { treeAdd(t, freed) }
        if report != SettleReport() {
            while !settleLock.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { waiting.spin() }
            settleSum = settleSum + report
            settleLock.store(0, ordering: .releasing)
        }
        gate.store(Settle.settled, ordering: .releasing)
        unsettled.wrappingDecrement(ordering: .acquiringAndReleasing)
    }

    /// Whether every tree is settled (then ``held(by:)`` is complete).
    public var isSettled: Bool { unsettled.load(ordering: .acquiring) == 0 }

    /// Settles the next unsettled tree, from a background thread; returns false when none is
    /// left.
    public func settleNext() -> Bool {
        guard let settled else { return false }
        for t in 0..<geometry.trees where UnsafeAtomic<UInt8>(at: settled + t).load(ordering: .acquiring) == Settle.unsettled {
            ensureSettled(t)
            return true
        }
        // Others may still be settling; wait for them so that "false" means "all settled".
        for t in 0..<geometry.trees { ensureSettled(t) }
        return false
    }

    /// Settles every tree (those another thread is settling are waited for).
    public func settleAll() {
        for t in 0..<geometry.trees { ensureSettled(t) }
    }

    /// What settling found so far, summed over the settled trees.
    public var settleReport: SettleReport {
        let waiting = Yielding()
        while !settleLock.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { waiting.spin() }
        defer { settleLock.store(0, ordering: .releasing) }
        return settleSum
    }

    // MARK: Listing

    /// The runs `owner` holds from frame `from` on, at most `limit`, and where to continue (nil at
    /// the end). Settles every tree first.
    public func runs(of owner: OwnerID, from: UInt64, limit: Int) -> (runs: [OwnedRun], next: UInt64?) {
        settleAll()
        let (found, next) = lower.runs(owner: owner, from: from, limit: limit)
        return (found.map(\.0), next)
    }
}
