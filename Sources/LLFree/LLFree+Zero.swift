// Idle zeroing, the upper level's part: a free huge frame whose frames are not all known zero is
// taken by the allocator's own owner (``Owners/zeroer``), so no get can reach it meanwhile; the
// get's own rule zeroes what is not known zero and fences it; its frames are marked known zero;
// and it is freed again. Off the request path: whoever calls it paces it (the daemon when idle).

extension LLFree {
    /// Zeroes one free huge frame (order 9) not yet known zero, searching children from `start`
    /// on (wrapping). Returns the child zeroed, or nil when every free whole child is known zero
    /// (or the allocator has no owners, so nothing is tracked). Durable when it returns.
    public func zeroNext(core: Int, from start: Int) -> Int? {
        guard hasOwners, core >= 0, core < cores, geometry.children > 0 else { return nil }
        let children = geometry.children
        var i = 0
        while i < children {
            let c = (start % children + i) % children
            i += 1
            guard geometry.framesIn(child: c) == Geometry.childFrames else { continue }
            let e = lower.child(c)
            guard !e.huge, e.free == Geometry.childFrames, !lower.allZeroed(c) else { continue }
            let frame = UInt64(c) * UInt64(Geometry.childFrames)
            // Taken by a get in between, or part of a tree not settled yet that turns out held.
            guard (try? get(at: frame, order: Geometry.hugeOrder, core: core, owner: Owners.zeroer)) != nil else { continue }
            // The get zeroed every frame that was not known zero and fenced it.
            lower.markZeroed(c)
            do {
                try put(frame, order: Geometry.hugeOrder, core: core, owner: Owners.zeroer)
            } catch {
                preconditionFailure("the idle zeroer could not free the huge frame it holds at \(frame): \(error)")
            }
            return c
        }
        return nil
    }

    /// Free frames known to be zero (a scan of every frame tag; for statistics).
    public func zeroedFrames() -> Int { lower.zeroedFrames(0..<geometry.children) }
}
