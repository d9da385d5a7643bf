// The bulk path of the upper level, order 0 only: a batch get takes its budget from the core's
// reservation with one update per reservation it uses (not one per frame) and its frames from
// the lower level a row at a time (``Lower/getBulk(count:children:hint:owner:into:)``); a batch
// put frees the frames it names that lie in one bitfield row together
// (``Lower/putRow(_:_:owner:failed:freed:)``) and gives their budget back with one update.
// Still one fence per batch. What a batch cannot get this way (the reservation and the trees
// near it are exhausted) it gets frame by frame through the slow path, as a single get would.

import Atomics

extension LLFree {
    /// The bulk get of ``get(order:core:kind:owner:into:bulk:)``, order 0; does not fence.
    @inlinable
    func getBulk(core: Int, kind: Int, owner: OwnerID, into frames: UnsafeMutableBufferPointer<UInt64>) -> Int {
        let out = frames.baseAddress!
        var n = 0
        var attempts = 0
        while n < frames.count && attempts < 4 {
            let got = getReservedBulk(core, kind, frames.count &- n, owner: owner, into: out + n)
            if got > 0 {
                n &+= got
                continue
            }
            if resync(core, kind) { attempts &+= 1; continue }
            if !reserveNew(core, kind, 1) { break }
            attempts &+= 1
        }
        while n < frames.count {
            guard let frame = getSlow(order: 0, core: core, kind: kind, owner: owner) else { break }
            out[n] = frame
            n &+= 1
        }
        return n
    }

    /// Takes up to `count` frames of budget from `core`'s reservation of `kind` with one update,
    /// and that many frames of its tree; gives back what the tree did not have.
    @inlinable @inline(__always)
    func getReservedBulk(_ core: Int, _ kind: Int, _ count: Int, owner: OwnerID, into out: UnsafeMutablePointer<UInt64>) -> Int {
        var taken = 0
        guard let r = update(reservation(core, kind), { (r: Reservation) -> Reservation? in
            guard r.present, r.free > 0 else { return nil }
            taken = Swift.min(count, r.free)
            return r.with(free: r.free &- taken)
        }) else { return 0 }
        let h = hint(core, kind)
        let got = lower.getBulk(count: taken, children: geometry.childRange(tree: r.tree), hint: h.load(ordering: .relaxed),
                                owner: owner, into: out)
        if got > 0 { h.store(out[got &- 1], ordering: .relaxed) }
        if got < taken { giveBack(core, kind, tree: r.tree, taken &- got) }
        return got
    }

    /// The bulk put of ``put(frames:order:core:owner:waiting:bulk:failed:)``, order 0; does not
    /// fence. Counts each holder's frames into `counted`. Returns how many were freed.
    @inlinable
    func putBulk<W: Waiting>(frames: UnsafeBufferPointer<UInt64>, core: Int, owner: OwnerID, waiting: W,
                             failed: (Int, LLFreeError) -> Void, counted count: (OwnerID) -> Void) -> Int {
        guard let base = frames.baseAddress else { return 0 }
        var n = 0
        var i = 0
        while i < frames.count {
            let frame = base[i]
            guard frame < geometry.frames else {
                failed(i, badFrame(frame, 0))
                i &+= 1
                continue
            }
            // The frames from i on that lie in the same row (at most 64 of them).
            let row = frame >> 6
            var j = i &+ 1
            while j < frames.count && j &- i < 64 && base[j] >> 6 == row { j &+= 1 }
            let child = Int(frame / UInt64(Geometry.childFrames))
            let t = treeOf(frame)
            ensureSettled(t)
            if !lower.child(child).isBase {
                // A huge frame being split or to split: frame by frame, as a single put.
                while i < j {
                    do throws(LLFreeError) {
                        count(try putInner(base[i], order: 0, core: core, owner: owner, waiting))
                        n &+= 1
                    } catch {
                        failed(i, error)
                    }
                    i &+= 1
                }
                continue
            }
            var freed = 0
            let first = i
            lower.putRow(base + i, j &- i, owner: owner, failed: { failed(first &+ $0, $1) }, freed: { _, holder in
                freed &+= 1
                count(holder)
            })
            if freed > 0 {
                n &+= freed
                var k = 0
                var given = false
                while k < Kind.count {
                    if update(reservation(core, k), { (r: Reservation) in r.giveBack(freed, tree: t) }) != nil { given = true; break }
                    k &+= 1
                }
                if !given {
                    treeAdd(t, freed)
                    reserveOnFree(core, tree: t)
                }
            }
            i = j
        }
        return n
    }
}
