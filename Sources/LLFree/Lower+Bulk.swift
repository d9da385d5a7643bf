// The bulk path of the lower level, order 0 only: a get takes up to 64 frames of one bitfield
// row with one compare-and-swap (and as many frames as the child has of its counter with one
// update), a put frees the frames of one row it names with one compare-and-swap. The store order
// is that of the single-frame path, so the crash guarantees are the same: a get takes the counter
// before it sets the bits and tags the frames after (each frame a run of order 0, a head tag);
// a put claims every frame's tag first (the compare-and-swap that decides racing puts and the
// owner), then clears the bits, then gives the counter back. Every changed line is flushed; the
// caller's one fence per batch makes them durable.

import Atomics

extension Child {
    /// Takes up to `n` frames of the counter (as many as it has) if the child serves base frames
    /// and has at least one.
    @inlinable @inline(__always)
    func take(upTo n: Int) -> Child? { isBase && free > 0 ? Child(raw: raw &- UInt16(Swift.min(n, free))) : nil }
}

extension Bitfield {
    /// The lowest `n` set bits of `bits` (all of them if it has no more than `n`).
    @inlinable @inline(__always)
    static func lowest(_ n: Int, of bits: UInt64) -> UInt64 {
        if bits.nonzeroBitCount <= n { return bits }
        var rest = bits
        var i = 0
        while i < n {
            rest &= rest &- 1
            i &+= 1
        }
        return bits & ~rest
    }

    /// Sets up to `n` free frames (order 0), row by row from `startRow`, each row with one
    /// compare-and-swap, and writes their frame numbers (`base` + index) to `out`. Flushes the
    /// line once. Returns how many were set.
    @inlinable @inline(__always)
    func getBulk<P: Persistence>(_ n: Int, startRow: Int, base: UInt64, into out: UnsafeMutablePointer<UInt64>, _ p: P) -> Int {
        var got = 0
        var i = 0
        while i < Geometry.rows && got < n {
            let r = (startRow &+ i) & (Geometry.rows - 1)
            let want = n &- got
            var mask: UInt64 = 0
            if update(row(r), { (value: UInt64) -> UInt64? in
                let free = ~value
                if free == 0 { return nil }
                mask = Bitfield.lowest(want, of: free)
                return value | mask
            }) != nil {
                p.stored(line, truth: true)
                let first = base &+ UInt64(r &* Geometry.rowBits)
                while mask != 0 {
                    out[got] = first &+ UInt64(mask.trailingZeroBitCount)
                    got &+= 1
                    mask &= mask &- 1
                }
            }
            i &+= 1
        }
        if got > 0 { p.flush(line) }
        return got
    }
}

extension Lower {
    /// Takes up to `n` frames of the counter of `child`; returns how many (0 if it is not a base
    /// child or has none).
    @inlinable @inline(__always)
    func decrement(_ child: Int, upTo n: Int) -> Int {
        guard let old = update(entry(child), { (c: Child) in c.take(upTo: n) }) else { return 0 }
        p.stored(entryLine(child), truth: false)
        return Swift.min(n, old.free)
    }

    /// Allocates up to `count` frames of order 0 inside `children`, trying `hint` first, into
    /// `out`; returns how many. The caller has taken `count` frames of the tree's budget and
    /// gives back what is not used. Does not fence.
    @inlinable @inline(__always)
    func getBulk(count: Int, children: Range<Int>, hint: UInt64, owner: OwnerID, into out: UnsafeMutablePointer<UInt64>) -> Int {
        let total = children.count
        var hintChild = Int(hint / UInt64(Geometry.childFrames))
        if !children.contains(hintChild) { hintChild = children.lowerBound }
        let startRow = Int(hint % UInt64(Geometry.childFrames)) / Geometry.rowBits
        var got = 0
        var i = 0
        while i < total && got < count {
            var c = hintChild &+ i
            if c >= children.upperBound { c &-= total }
            let m = decrement(c, upTo: count &- got)
            if m > 0 {
                let taken = bitfield(c).getBulk(m, startRow: i == 0 ? startRow : 0, base: UInt64(c) &* UInt64(Geometry.childFrames),
                                                into: out + got, p)
                tagBulk(out + got, taken, owner: owner)
                if taken < m { increment(c, m &- taken) }
                got &+= taken
            }
            i &+= 1
        }
        return got
    }

    /// Tags the `count` order-0 frames at `frames`, whose bits this thread has just set, as held
    /// by `owner` (each a head tag of order 0, as ``tag(_:order:owner:)`` writes), and flushes each
    /// tag line once per run of frames on it. Frames not known to be zero are zeroed first, with
    /// one fence for all of them before any tag.
    @inlinable @inline(__always)
    func tagBulk(_ frames: UnsafeMutablePointer<UInt64>, _ count: Int, owner: OwnerID) {
        guard tags != nil, count > 0 else { return }
        if zeroUnlessZeroed(frames, count) { p.fence() }
        let head = FrameTag(head: owner, order: 0).raw
        var i = 0
        while i < count {
            let f = Int(frames[i])
            tagWord(f).store(head, ordering: .releasing)
            p.stored(tagLine(f), truth: true)
            i &+= 1
        }
        flushTagLines(frames, count)
    }

    /// Flushes the tag lines of the `count` order-0 frames at `frames`; consecutive frames on one
    /// line are flushed once.
    @inlinable @inline(__always)
    func flushTagLines(_ frames: UnsafePointer<UInt64>, _ count: Int) {
        var last = UInt.max
        var i = 0
        while i < count {
            let address = tagLine(Int(frames[i]))
            let current = UInt(bitPattern: address) / UInt(Geometry.lineSize)
            if current != last {
                p.flush(address)
                last = current
            }
            i &+= 1
        }
    }

    /// Claims the put of the order-0 run at `frame`, as ``untag(_:order:owner:)`` does, and
    /// returns who held it (``Owners/any`` without owners).
    @inlinable @inline(__always)
    func untagFrame(_ frame: UInt64, owner: OwnerID) throws(LLFreeError) -> OwnerID {
        guard tags != nil else { return Owners.any }
        let f = Int(frame)
        var foreign = false
        guard let old = update(tagWord(f), { (t: FrameTag) -> FrameTag? in
            guard t.isHead, t.order == 0 else { foreign = false; return nil }
            guard owner == Owners.any || t.owner == owner else { foreign = true; return nil }
            return FrameTag.none
        }) else {
            if foreign { throw .notOwner(frame: frame, order: 0) }
            throw .notAllocated(frame: frame, order: 0)
        }
        p.stored(tagLine(f), truth: true)
        return old.owner
    }

    /// Claims the puts of the four order-0 runs at `frame` (a multiple of 4) with one
    /// compare-and-swap of their four tags (one aligned 64-bit word) when each is the head of an
    /// order-0 run held by `owner` (by anyone for ``Owners/any``), as ``untagFrame(_:owner:)``
    /// claims one. Returns the four tags replaced (their holders), or nil with nothing changed:
    /// then each is claimed on its own, which says why one is refused.
    @inlinable @inline(__always)
    func untagFrames4(_ frame: UInt64, owner: OwnerID) -> UInt64? {
        assert(frame & 3 == 0 && tags != nil)
        let f = Int(frame)
        let raw = UnsafeMutableRawPointer(tags.unsafelyUnwrapped + f)
        assert(UInt(bitPattern: raw) & 7 == 0, "four tags from a multiple of 4 are one aligned word")
        let word = UnsafeAtomic<UInt64>(at: raw.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
        guard let old = update(word, { (quad: UInt64) -> UInt64? in
            var k: UInt64 = 0
            while k < 4 {
                let t = FrameTag(raw: UInt16(truncatingIfNeeded: quad &>> (16 &* k)))
                guard t.isHead, t.order == 0, owner == Owners.any || t.owner == owner else { return nil }
                k &+= 1
            }
            return 0
        }) else { return nil }
        var k = 0
        while k < 4 {
            p.stored(tagLine(f &+ k), truth: true)
            k &+= 1
        }
        return old
    }

    /// Frees the order-0 frames `frames[0..<count]` (at most 64), all in one bitfield row of a
    /// base child (checked for range by the caller): claims each one's tag, then clears the bits
    /// of all of them with one compare-and-swap, flushes, and gives the counter back with one add.
    /// Calls `failed` for each refused one and `freed` with the holder of each freed one, by
    /// index, in request order. Does not fence, except after a refusal found by the bits (only
    /// damage gets there with owners), as the single-frame path does.
    @inlinable @inline(__always)
    func putRow(_ frames: UnsafePointer<UInt64>, _ count: Int, owner: OwnerID,
                failed: (Int, LLFreeError) -> Void, freed: (Int, OwnerID) -> Void) {
        assert(count <= 64)
        withUnsafeTemporaryAllocation(of: OwnerID.self, capacity: 64) { holders in
            let child = Int(frames[0] / UInt64(Geometry.childFrames))
            let r = Int(frames[0] % UInt64(Geometry.childFrames)) / Geometry.rowBits
            var mask: UInt64 = 0
            var claimed: UInt64 = 0  // by index
            var i = 0
            while i < count {
                // Four consecutive frames from a multiple of 4: their tags are one word, claimed
                // with one compare-and-swap when all four may be.
                if tags != nil && i &+ 3 < count && frames[i] & 3 == 0 && frames[i &+ 3] == frames[i] &+ 3
                    && frames[i &+ 1] == frames[i] &+ 1 && frames[i &+ 2] == frames[i] &+ 2 {
                    let bits = UInt64(0xF) << (frames[i] % UInt64(Geometry.rowBits))
                    if mask & bits == 0, let old = untagFrames4(frames[i], owner: owner) {
                        mask |= bits
                        claimed |= UInt64(0xF) << UInt64(i)
                        var k = 0
                        while k < 4 {
                            holders[i &+ k] = FrameTag(raw: UInt16(truncatingIfNeeded: old &>> UInt64(16 &* k))).owner
                            k &+= 1
                        }
                        i &+= 4
                        continue
                    }
                }
                let bit = UInt64(1) << (frames[i] % UInt64(Geometry.rowBits))
                do throws(LLFreeError) {
                    let holder = try untagFrame(frames[i], owner: owner)
                    // Named twice in one put (without owners; with them the tag refuses).
                    if mask & bit != 0 { throw .notAllocated(frame: frames[i], order: 0) }
                    mask |= bit
                    claimed |= UInt64(1) << UInt64(i)
                    holders[i] = holder
                } catch {
                    failed(i, error)
                }
                i &+= 1
            }
            guard mask != 0 else { return }
            var unset: UInt64 = mask
            let bf = bitfield(child)
            if update(bf.row(r), { (value: UInt64) -> UInt64? in
                unset = mask & ~value
                return value & mask == 0 ? nil : value & ~mask
            }) != nil {
                p.stored(bf.line, truth: true)
                p.flush(bf.line)
            }
            if tags != nil { flushTagLines(frames, count) }
            let cleared = mask & ~unset
            if cleared != 0 { increment(child, cleared.nonzeroBitCount) }
            i = 0
            while i < count {
                if claimed & (UInt64(1) << UInt64(i)) != 0 {
                    if unset & (UInt64(1) << (frames[i] % UInt64(Geometry.rowBits))) != 0 {
                        failed(i, .notAllocated(frame: frames[i], order: 0))
                    } else {
                        freed(i, holders[i])
                    }
                }
                i &+= 1
            }
            if unset != 0 { p.fence() }
        }
    }
}
