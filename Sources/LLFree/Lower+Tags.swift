// The owner tags' transitions, beside the lower level they belong to: tag a run a get took,
// claim and clear the tag of a run a put frees (the compare-and-swap that decides which of two
// racing puts proceeds, and whether the putter holds the run), the same for huge runs, and the
// tags a split writes. All of them are no-ops when the geometry has no owners.

import Atomics

extension FrameTag: AtomicWord {}
extension HugeTag: AtomicWord {}

extension Lower {
    /// Frame tags per 64-byte line.
    @inlinable static var tagsPerLine: Int { Geometry.lineSize / 2 }

    @inlinable @inline(__always)
    func tagWord(_ frame: Int) -> UnsafeAtomic<UInt16> { UnsafeAtomic(at: tags.unsafelyUnwrapped + frame) }

    @inlinable @inline(__always)
    func tagLine(_ frame: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(tags.unsafelyUnwrapped + frame) }

    @inlinable @inline(__always)
    func hugeTagWord(_ child: Int) -> UnsafeAtomic<UInt16> { UnsafeAtomic(at: hugeTags.unsafelyUnwrapped + child) }

    @inlinable @inline(__always)
    func hugeTagLine(_ child: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(hugeTags.unsafelyUnwrapped + child) }

    /// The tag of base frame `frame` (untagged without owners).
    @inlinable
    public func frameTag(_ frame: UInt64) -> FrameTag {
        tags == nil ? .none : FrameTag(raw: tagWord(Int(frame)).load(ordering: .relaxed))
    }

    /// The huge tag of `child` (untagged without owners).
    @inlinable
    public func hugeTag(_ child: Int) -> HugeTag {
        hugeTags == nil ? .none : HugeTag(raw: hugeTagWord(child).load(ordering: .relaxed))
    }

    // MARK: Base runs

    /// Tags the run of 2^order frames at `frame`, whose bits this thread has just set (a get), as
    /// held by `owner`, and flushes the tag lines. Only the thread that set the bits writes these
    /// tags. Frames of the run not known to be zero are zeroed first, and fenced before any tag
    /// is written (``zeroUnlessZeroed(_:order:)``).
    @inlinable @inline(__always)
    func tag(_ frame: UInt64, order: Int, owner: OwnerID) {
        guard tags != nil else { return }
        if zeroUnlessZeroed(frame, order: order) { p.fence() }
        writeTags(frame, order: order, owner: owner)
    }

    /// Writes the tags of a run of 2^order frames at `frame` held by `owner` and flushes them.
    @inlinable @inline(__always)
    func writeTags(_ frame: UInt64, order: Int, owner: OwnerID) {
        let f = Int(frame)
        tagWord(f).store(FrameTag(head: owner, order: order).raw, ordering: .releasing)
        p.stored(tagLine(f), truth: true)
        if order > 0 {
            let interior = FrameTag(interior: owner).raw
            var i = f &+ 1
            let end = f &+ (1 << order)
            while i < end {
                tagWord(i).store(interior, ordering: .relaxed)
                p.stored(tagLine(i), truth: true)
                i &+= 1
            }
        }
        flushTags(frame, order: order)
    }

    /// Flushes the tag lines of the run of 2^order frames at `frame`.
    @inlinable @inline(__always)
    func flushTags(_ frame: UInt64, order: Int) {
        guard tags != nil else { return }
        let f = Int(frame)
        if order <= 4 {
            p.flush(tagLine(f))  // 16 tags or fewer, aligned: one line
            return
        }
        var i = 0
        while i < 1 << order {
            p.flush(tagLine(f &+ i))
            i &+= Self.tagsPerLine
        }
    }

    /// Claims the put of the run at `frame`: its head tag goes from (holder, order) to 0 if
    /// `owner` is the holder (or ``Owners/any``), then its other tags are cleared. The caller
    /// clears the bits next and flushes the tags with ``flushTags(_:order:)``.
    /// - Throws: ``LLFreeError/notAllocated(frame:order:)`` if no run of that order starts there,
    ///   ``LLFreeError/notOwner(frame:order:)`` if someone else holds it; nothing changed.
    @inlinable @inline(__always)
    func untag(_ frame: UInt64, order: Int, owner: OwnerID) throws(LLFreeError) {
        guard tags != nil else { return }
        let f = Int(frame)
        var foreign = false
        guard update(tagWord(f), { (t: FrameTag) -> FrameTag? in
            guard t.isHead, t.order == order else { foreign = false; return nil }
            guard owner == Owners.any || t.owner == owner else { foreign = true; return nil }
            return FrameTag.none
        }) != nil else {
            if foreign { throw .notOwner(frame: frame, order: order) }
            throw .notAllocated(frame: frame, order: order)
        }
        p.stored(tagLine(f), truth: true)
        var i = f &+ 1
        let end = f &+ (1 << order)
        while i < end {
            tagWord(i).store(0, ordering: .relaxed)
            p.stored(tagLine(i), truth: true)
            i &+= 1
        }
    }

    /// Puts back the tags ``untag(_:order:owner:)`` cleared, when the bits refused (damage), and
    /// makes that durable before the refusal is answered.
    @usableFromInline @inline(never)
    func retag(_ frame: UInt64, order: Int) {
        // The holder is unknown here only if the tags were damaged too; the bitfield says the run
        // is not allocated, so leaving it untagged is the consistent state.
        flushTags(frame, order: order)
        p.fence()
    }

    /// Tags the 512 frames of `child`, being split, as runs of `order` held by `owner`; flushes.
    @inlinable
    func tagChild(_ child: Int, order: Int, owner: OwnerID) {
        let first = UInt64(child) * UInt64(Geometry.childFrames)
        var f: UInt64 = 0
        while f < UInt64(Geometry.childFrames) {
            // The holder's frames keep the holder's bytes: no zeroing here.
            writeTags(first + f, order: order, owner: owner)
            f += UInt64(1) << UInt64(order)
        }
    }

    // MARK: Huge runs

    /// Tags the huge run of 2^span children from `start`, just taken (a get), as held by `owner`;
    /// zeroes what of it is not known to be zero first, fenced before the tag.
    @inlinable @inline(__always)
    func tagHuge(_ start: Int, span: Int, owner: OwnerID, zeroing: Bool = true) {
        guard hugeTags != nil else { return }
        if zeroing && zeroUnlessZeroed(huge: start, span: span) { p.fence() }
        hugeTagWord(start).store(HugeTag(owner: owner, span: span).raw, ordering: .releasing)
        p.stored(hugeTagLine(start), truth: true)
        p.flush(hugeTagLine(start))
    }

    /// Claims the put of the huge run at `start`: its tag goes from (holder, span) to 0 if
    /// `owner` holds it. Returns the tag it replaced (nil without owners).
    @inlinable
    func untagHuge(_ start: Int, span: Int, owner: OwnerID, frame: UInt64, order: Int) throws(LLFreeError) -> HugeTag? {
        guard hugeTags != nil else { return nil }
        var foreign = false
        guard let old = update(hugeTagWord(start), { (t: HugeTag) -> HugeTag? in
            guard t.raw != 0, t.span == span else { foreign = false; return nil }
            guard owner == Owners.any || t.owner == owner else { foreign = true; return nil }
            return HugeTag.none
        }) else {
            if foreign { throw .notOwner(frame: frame, order: order) }
            throw .notAllocated(frame: frame, order: order)
        }
        p.stored(hugeTagLine(start), truth: true)
        p.flush(hugeTagLine(start))
        return old
    }

    /// Puts back a huge tag whose run refused to be freed (a racing split), durably before the
    /// refusal is answered.
    @usableFromInline @inline(never)
    func retagHuge(_ start: Int, _ tag: HugeTag) {
        hugeTagWord(start).store(tag.raw, ordering: .releasing)
        p.stored(hugeTagLine(start), truth: true)
        p.flush(hugeTagLine(start))
        p.fence()
    }

    /// Marks the order-9 frame of `child`, claimed for a split, "being split" if `owner` holds
    /// it; returns its holder.
    @inlinable
    func claimHugeForSplit(_ child: Int, owner: OwnerID, frame: UInt64, order: Int) throws(LLFreeError) -> OwnerID {
        var foreign = false
        guard let old = update(hugeTagWord(child), { (t: HugeTag) -> HugeTag? in
            guard t.raw != 0, t.span == 0 else { foreign = false; return nil }
            guard owner == Owners.any || t.owner == owner else { foreign = true; return nil }
            return HugeTag(owner: t.owner, span: HugeTag.splittingSpan)
        }) else {
            if foreign { throw .notOwner(frame: frame, order: order) }
            throw .notAllocated(frame: frame, order: order)
        }
        p.stored(hugeTagLine(child), truth: true)
        p.flush(hugeTagLine(child))
        return old.owner
    }

    /// Clears the huge tag of `child` and flushes it.
    @inlinable
    func clearHugeTag(_ child: Int) {
        hugeTagWord(child).store(0, ordering: .releasing)
        p.stored(hugeTagLine(child), truth: true)
        p.flush(hugeTagLine(child))
    }

    // MARK: Listing

    /// The runs `owner` holds (``Owners/any``: every owner's) from frame `from` on, in frame
    /// order, at most `limit`; also the frame to continue from (nil when the end was reached).
    /// The state may change while it runs: each run was held when it was read.
    public func runs(owner: OwnerID, from: UInt64, limit: Int) -> (runs: [(OwnedRun, OwnerID)], next: UInt64?) {
        var out: [(OwnedRun, OwnerID)] = []
        guard tags != nil, limit > 0 else { return (out, nil) }
        var c = Int(min(from, geometry.frames) / UInt64(Geometry.childFrames))
        var start = Int(min(from, geometry.frames) % UInt64(Geometry.childFrames))
        while c < geometry.children {
            let e = child(c)
            if e.huge {
                let group = 1 << e.span
                let t = hugeTag(c)
                if c & (group - 1) == 0, start == 0, t.raw != 0, owner == Owners.any || t.owner == owner {
                    if out.count == limit { return (out, UInt64(c) * UInt64(Geometry.childFrames)) }
                    out.append((OwnedRun(frame: UInt64(c) * UInt64(Geometry.childFrames), order: Geometry.hugeOrder + e.span), t.owner))
                }
                c += 1
                start = 0
                continue
            }
            // A free child holds no run (its tags, if a crash left any, are not trusted without
            // bits): most of a large pool is skipped without reading its 1 KiB of tags.
            if e.free == geometry.framesIn(child: c) && !e.isLocked {
                c += 1
                start = 0
                continue
            }
            let base = UInt64(c) * UInt64(Geometry.childFrames)
            let raw = UnsafeRawPointer(tags.unsafelyUnwrapped + c * Geometry.childFrames)
            var i = start
            while i < Geometry.childFrames {
                // Four tags at a time: most of a sparse pool is untagged.
                if i & 3 == 0, raw.load(fromByteOffset: i * 2, as: UInt64.self) == 0 { i += 4; continue }
                let t = FrameTag(raw: raw.load(fromByteOffset: i * 2, as: UInt16.self))
                if t.isHead, owner == Owners.any || t.owner == owner, bitfield(c).row(i / 64).load(ordering: .relaxed) & (1 << UInt64(i % 64)) != 0 {
                    if out.count == limit { return (out, base + UInt64(i)) }
                    out.append((OwnedRun(frame: base + UInt64(i), order: t.order), t.owner))
                    i += 1 << t.order
                    continue
                }
                i += 1
            }
            c += 1
            start = 0
        }
        return (out, nil)
    }

    // MARK: Format

    /// Clears every tag (format), flushing the lines that changed. Does not fence.
    func formatTags() {
        guard let tags, let hugeTags else { return }
        clearWords(UnsafeMutableRawPointer(tags), count: geometry.children * Geometry.childFrames)
        clearWords(UnsafeMutableRawPointer(hugeTags), count: geometry.children)
    }

    /// Stores 0 into every non-zero 16-bit word of `count` at `base` (8 bytes at a time), reporting
    /// and flushing each changed line.
    func clearWords(_ base: UnsafeMutableRawPointer, count: Int) {
        let bytes = count * 2
        var offset = 0
        while offset < bytes {
            var changed = false
            let end = min(offset + Geometry.lineSize, bytes)
            var o = offset
            while o < end {
                // Format runs alone (no other thread), so plain stores through the raw pointer do.
                if end - o >= 8 {
                    if (base + o).load(as: UInt64.self) != 0 { (base + o).storeBytes(of: 0, as: UInt64.self); p.stored(base + o, truth: true); changed = true }
                    o += 8
                } else {
                    if (base + o).load(as: UInt16.self) != 0 { (base + o).storeBytes(of: 0, as: UInt16.self); p.stored(base + o, truth: true); changed = true }
                    o += 2
                }
            }
            if changed { p.flush(base + offset) }
            offset = end
        }
    }
}
