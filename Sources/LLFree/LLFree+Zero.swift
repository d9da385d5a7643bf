// Idle zeroing and reclaim, the upper level's part: a free huge frame is taken by the
// allocator's own owner (``Owners/zeroer``), so no get can reach it meanwhile; its content is
// made zero, by writing zeros through the persistence seam or by the caller returning its memory
// to the backing store (a punched hole reads as zeros), and made durable; its frames are marked
// known zero; and it is freed again. Off the request path: whoever calls it paces it (the daemon
// while idle).

/// What the idle zeroer does with a free huge frame (``LLFree/zeroNext(core:from:choose:reclaim:)``).
public enum ZeroChoice: Sendable, Equatable {
    /// Leave it as it is.
    case skip
    /// Write zeros over what of it is not known zero.
    case write
    /// Return its memory to the backing store (it then reads as zeros), or write zeros if that
    /// fails.
    case reclaim
}

/// What the idle zeroer did with one free huge frame.
public struct ZeroStep: Sendable, Equatable {
    /// The child (huge frame) handled.
    public var child: Int
    /// Whether its memory went back to the backing store (else zeros were written).
    public var reclaimed: Bool
}

extension LLFree {
    /// Zeroes one free huge frame (order 9) not yet known zero, searching children from `start`
    /// on (wrapping). Returns the child zeroed, or nil when every free whole child is known zero
    /// (or the allocator has no owners, so nothing is tracked). Durable when it returns.
    public func zeroNext(core: Int, from start: Int) -> Int? {
        zeroNext(core: core, from: start, choose: { _, knownZero in knownZero ? .skip : .write }, reclaim: { _ in false })?.child
    }

    /// Handles the first free whole child from `start` on (wrapping) for which `choose(child,
    /// knownZero)` is not ``ZeroChoice/skip``: takes it as ``Owners/zeroer``; for
    /// ``ZeroChoice/reclaim`` calls `reclaim(child)`, which returns its memory to the backing
    /// store and makes that durable, returning false if it cannot (then zeros are written); for
    /// ``ZeroChoice/write`` writes zeros over the frames not known zero and fences them; then
    /// marks its frames known zero and frees it (one fence). Returns what it did, or nil when no
    /// child was chosen. `choose` runs on free children only, without the child held: it decides
    /// on a state that may change; the take decides whether it still applies.
    public func zeroNext(core: Int, from start: Int, choose: (Int, Bool) -> ZeroChoice, reclaim: (Int) -> Bool) -> ZeroStep? {
        guard hasOwners, core >= 0, core < cores, geometry.children > 0 else { return nil }
        let children = geometry.children
        var i = 0
        while i < children {
            let c = (start % children + i) % children
            i += 1
            guard geometry.framesIn(child: c) == Geometry.childFrames else { continue }
            let e = lower.child(c)
            guard !e.huge, e.free == Geometry.childFrames else { continue }
            let choice = choose(c, lower.allZeroed(c))
            if choice == .skip { continue }
            let frame = UInt64(c) * UInt64(Geometry.childFrames)
            // Taken by a get in between, or part of a tree not settled yet that turns out held.
            guard (try? get(at: frame, order: Geometry.hugeOrder, core: core, owner: Owners.zeroer, zeroing: false)) != nil else { continue }
            var reclaimed = false
            if choice == .reclaim { reclaimed = reclaim(c) }
            if !reclaimed && lower.zeroUnlessZeroed(huge: c, span: 0) { p.fence() }
            // Its content reads as zeros durably now: the marks may follow.
            lower.markZeroed(c)
            do {
                try put(frame, order: Geometry.hugeOrder, core: core, owner: Owners.zeroer)
            } catch {
                preconditionFailure("the idle zeroer could not free the huge frame it holds at \(frame): \(error)")
            }
            return ZeroStep(child: c, reclaimed: reclaimed)
        }
        return nil
    }

    /// Free frames known to be zero (a scan of every frame tag; for statistics).
    public func zeroedFrames() -> Int { lower.zeroedFrames(0..<geometry.children) }
}
