// The lower level: bitfields and child entries inside the caller's metadata region. Everything
// here is persistent; every store is reported to the persistence seam. Orders 0...8 live in one
// child's bitfield, order 9 is one child's huge flag, orders >= 10 are runs of huge children.

import Atomics

/// The lower level of LLFree over a metadata region laid out as ``Geometry`` describes.
///
/// Store order (what makes it crash-consistent): a get decrements a child counter before it sets
/// bits; a put clears bits before it increments the counter. Counters may lag, bitfields and huge
/// flags never lie, and recovery recomputes counters from them.
///
/// With owners (``Geometry/owners``), a get tags the run after it set its bits, and a put clears
/// the tags before it clears the bits (the tag is claimed by a compare-and-swap, so of two racing
/// puts only one proceeds); both flush the tag lines before the operation's one fence. So in
/// memory a tag is never set on a free frame, and recovery (``settle(_:keep:count:)``) keeps a
/// run only if its bits and all of its tags agree.
@frozen
public struct Lower<P: Persistence> {
    public let geometry: Geometry
    @usableFromInline let bitfields: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    @usableFromInline let entries: UnsafeMutablePointer<UnsafeAtomic<UInt16>.Storage>
    /// One ``FrameTag`` per base frame, with owners.
    @usableFromInline let tags: UnsafeMutablePointer<UnsafeAtomic<UInt16>.Storage>?
    /// One ``HugeTag`` per child, with owners.
    @usableFromInline let hugeTags: UnsafeMutablePointer<UnsafeAtomic<UInt16>.Storage>?
    @usableFromInline let p: P

    /// A lower level over `region`, which must hold `geometry.metadataSize` bytes, 64-byte aligned.
    /// The region's content is used as it is: call ``format()`` for a new one.
    public init(geometry: Geometry, region: UnsafeMutableRawPointer, persistence: P) {
        precondition(UInt(bitPattern: region) % UInt(Geometry.lineSize) == 0, "metadata region must be 64-byte aligned")
        self.geometry = geometry
        self.bitfields = region.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: geometry.children * Geometry.rows)
        self.entries = (region + geometry.childrenOffset).bindMemory(to: UnsafeAtomic<UInt16>.Storage.self, capacity: geometry.children)
        if geometry.owners {
            self.tags = (region + geometry.tagsOffset).bindMemory(to: UnsafeAtomic<UInt16>.Storage.self, capacity: geometry.children * Geometry.childFrames)
            self.hugeTags = (region + geometry.hugeTagsOffset).bindMemory(to: UnsafeAtomic<UInt16>.Storage.self, capacity: geometry.children)
        } else {
            self.tags = nil
            self.hugeTags = nil
        }
        self.p = persistence
    }

    // MARK: Access

    @inlinable @inline(__always)
    func bitfield(_ child: Int) -> Bitfield { Bitfield(bitfields + child * Geometry.rows) }

    @inlinable @inline(__always)
    func entry(_ child: Int) -> UnsafeAtomic<UInt16> { UnsafeAtomic(at: entries + child) }

    @inlinable @inline(__always)
    func entryLine(_ child: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(entries + child) }

    /// The child entry of `child` as it is now.
    @inlinable
    public func child(_ child: Int) -> Child { Child(raw: entry(child).load(ordering: .relaxed)) }

    // MARK: Counters

    /// Takes `n` frames from the counter of `child` if it is not huge and has them.
    @inlinable @inline(__always)
    func decrement(_ child: Int, _ n: Int) -> Bool {
        guard update(entry(child), { (c: Child) in c.take(n) }) != nil else { return false }
        p.stored(entryLine(child), truth: false)
        return true
    }

    /// Gives `n` frames back to the counter of `child` (the child cannot be huge: its counter is
    /// below 512 while someone holds frames of it).
    @inlinable @inline(__always)
    func increment(_ child: Int, _ n: Int) {
        entry(child).wrappingIncrement(by: UInt16(n), ordering: .acquiringAndReleasing)
        p.stored(entryLine(child), truth: false)
    }

    // MARK: Get

    /// Allocates a naturally aligned run of 2^order frames inside `children`, trying `hint` first.
    /// The caller has already taken 2^order frames of the tree's budget. Returns nil, with nothing
    /// changed, if no such run exists there. Does not fence.
    @inlinable @inline(__always)
    func get(order: Int, children: Range<Int>, hint: UInt64, owner: OwnerID) -> UInt64? {
        if order < Geometry.hugeOrder {
            let n = 1 << order
            let count = children.count
            var hintChild = Int(hint / UInt64(Geometry.childFrames))
            if !children.contains(hintChild) { hintChild = children.lowerBound }
            let startRow = Int(hint % UInt64(Geometry.childFrames)) / Geometry.rowBits
            var i = 0
            while i < count {
                var c = hintChild + i
                if c >= children.upperBound { c -= count }
                if decrement(c, n) {
                    if let index = bitfield(c).get(order: order, startRow: i == 0 ? startRow : 0, p) {
                        let frame = UInt64(c) * UInt64(Geometry.childFrames) + UInt64(index)
                        tag(frame, order: order, owner: owner)
                        return frame
                    }
                    increment(c, n)
                }
                i += 1
            }
            return nil
        }
        return getHuge(order: order, children: children, hint: hint, owner: owner)
    }

    @inlinable
    func getHuge(order: Int, children: Range<Int>, hint: UInt64, owner: OwnerID) -> UInt64? {
        let span = order - Geometry.hugeOrder
        let group = 1 << span
        let first = children.lowerBound & ~(group - 1)
        let groups = (children.upperBound - first) / group
        guard groups > 0 else { return nil }
        let hintGroup = max(0, Int(hint / UInt64(Geometry.childFrames)) - first) / group % groups
        var i = 0
        while i < groups {
            let start = first + ((hintGroup + i) % groups) * group
            if start >= children.lowerBound, start + group <= children.upperBound,
               takeHuge(start: start, span: span) {
                tagHuge(start, span: span, owner: owner)
                return UInt64(start) * UInt64(Geometry.childFrames)
            }
            i += 1
        }
        return nil
    }

    /// Marks the `2^span` children from `start` huge, all or none. Undo by plain stores: a child
    /// we took from free to huge is ours, and its span tag keeps every other get and put off it.
    @inlinable
    func takeHuge(start: Int, span: Int) -> Bool {
        changeAll(1 << span, from: Child(free: Geometry.childFrames).raw, to: Child(free: 0, huge: true, span: span).raw,
                  undo: .store, p, word: { entry(start &+ $0) }, line: { entryLine(start &+ $0) })
    }

    /// Flushes the lines of the `count` child entries from `start`.
    @inlinable @inline(__always)
    func flushEntries(_ start: Int, _ count: Int) {
        flushLines(count, p, line: { entryLine(start &+ $0) })
    }

    /// Allocates exactly the run of 2^order frames at `frame` if it is free. Does not fence.
    /// `zeroing` false (the idle zeroer, which zeroes or reclaims the frame itself) leaves a
    /// huge run's content and known-zero marks as they are.
    @inlinable
    func get(at frame: UInt64, order: Int, owner: OwnerID, zeroing: Bool = true) -> Bool {
        let child = Int(frame / UInt64(Geometry.childFrames))
        if order < Geometry.hugeOrder {
            let n = 1 << order
            guard decrement(child, n) else { return false }
            if bitfield(child).set(at: Int(frame % UInt64(Geometry.childFrames)), order: order, p) {
                tag(frame, order: order, owner: owner)
                return true
            }
            increment(child, n)
            return false
        }
        guard takeHuge(start: child, span: order - Geometry.hugeOrder) else { return false }
        tagHuge(child, span: order - Geometry.hugeOrder, owner: owner, zeroing: zeroing)
        return true
    }

    // MARK: Put

    /// Frees the run of 2^order frames at `frame` (already checked for range and alignment) if
    /// `owner` holds it (``Owners/any``: whoever holds it). Splits a huge frame first when a part
    /// of it is freed, calling `waiting` while another thread splits it. Does not fence.
    /// - Throws: ``LLFreeError/notAllocated(frame:order:)`` or
    ///   ``LLFreeError/notOwner(frame:order:)``, with nothing changed.
    @inlinable @inline(__always)
    func put<W: Waiting>(frame: UInt64, order: Int, owner: OwnerID, waiting: W) throws(LLFreeError) {
        let child = Int(frame / UInt64(Geometry.childFrames))
        if order < Geometry.hugeOrder {
            if !Child(raw: entry(child).load(ordering: .acquiring)).isBase {
                try split(child, frame: frame, order: order, owner: owner, waiting)
            }
            try untag(frame, order: order, owner: owner)
            guard bitfield(child).put(at: Int(frame % UInt64(Geometry.childFrames)), order: order, p) else {
                // Only damage gets here with owners (a tagged run always has its bits set).
                retag(frame, order: order)
                throw .notAllocated(frame: frame, order: order)
            }
            flushTags(frame, order: order)
            increment(child, 1 << order)
            return
        }
        try putHuge(start: child, span: order - Geometry.hugeOrder, frame: frame, order: order, owner: owner, waiting)
    }

    /// Frees the `2^span` huge children from `start`, all or none. Undo by compare-and-swap:
    /// only a racing put of the same frames makes a child refuse, and a child we freed may have
    /// been taken by someone else since; only one still free is restored.
    ///
    /// With owners, once this put has claimed the huge tag, a child found claimed for a split
    /// belongs to a put of part of the frame that will find the tag cleared, refuse, and give
    /// the child back: this put waits for that (calling `waiting`) instead of failing.
    @inlinable
    func putHuge<W: Waiting>(start: Int, span: Int, frame: UInt64, order: Int, owner: OwnerID, _ waiting: W) throws(LLFreeError) {
        let held = try untagHuge(start, span: span, owner: owner, frame: frame, order: order)
        while !changeAll(1 << span, from: Child(free: 0, huge: true, span: span).raw, to: Child(free: Geometry.childFrames).raw,
                         undo: .exchange, p, word: { entry(start &+ $0) }, line: { entryLine(start &+ $0) }) {
            if held != nil && span == 0 {
                let now = Child(raw: entry(start).load(ordering: .acquiring))
                if now.isSplitting { waiting.spin(); continue }
                if now == Child(free: 0, huge: true) { continue }  // given back since the attempt
            }
            if let held { retagHuge(start, held) }
            throw .notAllocated(frame: frame, order: order)
        }
    }

    /// Turns the huge frame of `child` into 512 allocated base frames, or waits until the thread
    /// that does so is done.
    ///
    /// Steps, each made durable before the next: (1) claim the child (huge, counter = splitting
    /// marker; volatile meaning only); (2) set all 512 bits, flush, fence: a crash now still
    /// recovers one huge frame; (3) clear the huge flag but keep the child locked (span 31),
    /// flush, fence; (4) unlock. Other threads wait while the child is claimed or locked, so no
    /// acknowledged put or get of another thread depends on a flag that is not yet durable.
    ///
    /// With owners, the putter must hold the huge frame (its tag is marked "being split" first),
    /// step (2) also tags the 512 frames as runs of the put's order held by that owner, and
    /// after (3) the huge tag is cleared, flushed and fenced before (4): a child that is taken
    /// huge again must find its huge tag durably 0.
    @inlinable
    func split<W: Waiting>(_ child: Int, frame: UInt64, order: Int, owner: OwnerID, _ waiting: W) throws(LLFreeError) {
        let atomic = entry(child)
        while update(atomic, { (c: Child) in c.claimForSplit() }) == nil {
            let c = Child(raw: atomic.load(ordering: .acquiring))
            if c.isBase { return }  // split by another thread, durably
            if c.huge && c.span != 0 { throw .notAllocated(frame: frame, order: order) }  // part of a larger run
            if c.claimForSplit() != nil { continue }  // became claimable since
            // Being split, or split but not yet durably: wait for that thread.
            waiting.spin()
        }
        p.stored(entryLine(child), truth: false)
        var holder = Owners.any
        if hugeTags != nil {
            do throws(LLFreeError) {
                holder = try claimHugeForSplit(child, owner: owner, frame: frame, order: order)
            } catch {
                atomic.store(Child(free: 0, huge: true).raw, ordering: .releasing)
                p.stored(entryLine(child), truth: false)
                throw error
            }
        }
        bitfield(child).fill(~0, p)
        if hugeTags != nil { tagChild(child, order: order, owner: holder) }
        p.fence()
        atomic.store(Child(free: 0, span: Child.lockedSpan).raw, ordering: .releasing)
        p.stored(entryLine(child), truth: true)
        p.flush(entryLine(child))
        p.fence()
        if hugeTags != nil {
            clearHugeTag(child)
            p.fence()
        }
        atomic.store(Child(free: 0).raw, ordering: .releasing)
        p.stored(entryLine(child), truth: false)
    }

    // MARK: Queries

    /// Whether the run of 2^order frames at `frame` is free (by the bitfields and huge flags).
    @inlinable
    public func isFree(frame: UInt64, order: Int) -> Bool {
        let child = Int(frame / UInt64(Geometry.childFrames))
        if order < Geometry.hugeOrder {
            if self.child(child).huge { return false }
            return bitfield(child).isFree(at: Int(frame % UInt64(Geometry.childFrames)), order: order)
        }
        for c in child..<(child + (1 << (order - Geometry.hugeOrder))) {
            let e = self.child(c)
            if e.huge || !bitfield(c).all(0) { return false }
        }
        return true
    }

    /// Sum of the child counters of `children`.
    @inlinable
    public func counted(_ children: Range<Int>) -> Int {
        var n = 0
        for c in children { n += self.child(c).free }
        return n
    }

    /// Free frames of `child` according to its bitfield and huge flag (the truth).
    public func actualFree(_ child: Int) -> Int {
        self.child(child).huge ? 0 : Geometry.childFrames - bitfield(child).allocated()
    }

    /// Free, naturally aligned runs of `order` in the whole lower level (by the truth).
    public func freeRuns(order: Int) -> Int {
        if order < Geometry.hugeOrder {
            var n = 0
            for c in 0..<geometry.children where !child(c).huge { n += bitfield(c).freeRuns(order: order) }
            return n
        }
        let group = 1 << (order - Geometry.hugeOrder)
        var n = 0
        var start = 0
        while start + group <= geometry.children {
            if isFree(frame: UInt64(start) * UInt64(Geometry.childFrames), order: order) { n += 1 }
            start += group
        }
        return n
    }

    // MARK: Format, close and recovery

    /// Initialises the region: every frame free, tail bits of a partial last child set.
    /// Everything is flushed and fenced.
    /// - Parameter zeroed: with owners, the frames read as zeros now (a new or truncated file):
    ///   every frame is marked known zero, so no get zeroes it.
    public func format(zeroed: Bool = false) {
        for c in 0..<geometry.children {
            let frames = geometry.framesIn(child: c)
            let bf = bitfield(c)
            for r in 0..<Geometry.rows {
                let lo = r * Geometry.rowBits
                let value: UInt64 = frames >= lo + 64 ? 0 : (frames <= lo ? ~0 : ~0 << UInt64(frames - lo))
                bf.row(r).store(value, ordering: .relaxed)
            }
            p.stored(bf.line, truth: true)
            p.flush(bf.line)
            entry(c).store(Child(free: frames).raw, ordering: .relaxed)
            p.stored(entryLine(c), truth: true)
        }
        flushEntries(0, geometry.children)
        formatTags()
        if zeroed { markAllZeroed() }
        p.fence()
    }

    /// Flushes every child entry line (counters are not flushed on the fast path) and fences;
    /// after this the counters on media are exact, as a clean pool's must be.
    public func persistAll() {
        if geometry.children > 0 { flushEntries(0, geometry.children) }
        p.fence()
    }

    /// The recovery scan: makes the lower level consistent after a crash. Clears bitfields under
    /// huge children, releases huge runs that were only partly taken or partly freed, restores the
    /// tail bits of a partial last child and recomputes every counter from the truth. Repeatable:
    /// a crash during recovery is repaired by running it again.
    public func recover() -> RecoveryReport {
        var report = RecoveryReport()
        let all = Child(free: Geometry.childFrames).raw
        // Huge runs of more than one child that are not complete are released.
        var c = 0
        while c < geometry.children {
            let e = child(c)
            if e.huge && e.span > 0 {
                let group = 1 << e.span
                let start = c & ~(group - 1)
                var complete = start + group <= geometry.children
                if complete {
                    for g in start..<(start + group) where !(child(g).huge && child(g).span == e.span) {
                        complete = false
                        break
                    }
                }
                if !complete {
                    for g in start..<min(start + group, geometry.children) where child(g).huge && child(g).span == e.span {
                        bitfield(g).fill(0, p)
                        entry(g).store(all, ordering: .relaxed)
                        p.stored(entryLine(g), truth: true)
                        report.releasedHugeChildren += 1
                    }
                    report.partialHugeRuns += 1
                }
                c = max(c + 1, start + group)
                continue
            }
            c += 1
        }
        for c in 0..<geometry.children {
            let e = child(c)
            let frames = geometry.framesIn(child: c)
            let bf = bitfield(c)
            if e.huge && frames == Geometry.childFrames {
                if bf.fill(0, p) { report.bitfieldsCleared += 1 }
                let clean = Child(free: 0, huge: true, span: e.span)
                if e != clean {
                    entry(c).store(clean.raw, ordering: .relaxed)
                    p.stored(entryLine(c), truth: true)
                }
                continue
            }
            // A partial child cannot be huge: a huge flag on one is damage, and it is recounted as
            // a base child here like any other.
            if frames < Geometry.childFrames {
                // Frames beyond the end must stay allocated.
                let r = frames / Geometry.rowBits
                let tail: UInt64 = ~0 << UInt64(frames % Geometry.rowBits)
                var changed = false
                if frames % Geometry.rowBits != 0 {
                    let v = bf.row(r).load(ordering: .relaxed)
                    if v & tail != tail { bf.row(r).store(v | tail, ordering: .relaxed); changed = true }
                }
                for rr in (r + (frames % Geometry.rowBits != 0 ? 1 : 0))..<Geometry.rows where bf.row(rr).load(ordering: .relaxed) != ~0 {
                    bf.row(rr).store(~0, ordering: .relaxed)
                    changed = true
                }
                if changed {
                    p.stored(bf.line, truth: true)
                    p.flush(bf.line)
                    report.tailsRepaired += 1
                }
            }
            let free = Geometry.childFrames - bf.allocated()
            if e != Child(free: free) {
                entry(c).store(Child(free: free).raw, ordering: .relaxed)
                p.stored(entryLine(c), truth: true)
                report.countersFixed += 1
            }
        }
        report.children = geometry.children
        persistAll()
        return report
    }

    /// Checks every child entry against its bitfield; returns one line per problem.
    public func validate() -> [String] {
        var problems: [String] = []
        for c in 0..<geometry.children {
            let e = child(c)
            let bf = bitfield(c)
            if e.huge {
                if hugeTags != nil {
                    let group = 1 << e.span
                    let t = hugeTag(c)
                    if c & (group - 1) == 0 {
                        if !t.tags(span: e.span) { problems.append("child \(c): huge run of \(group) children is not tagged (\(t))") }
                    } else if t.raw != 0 { problems.append("child \(c): tagged (\(t)) inside a huge run") }
                    for f in 0..<Geometry.childFrames where frameTag(UInt64(c * Geometry.childFrames + f)).raw != 0 {
                        problems.append("child \(c): frame tag under a huge child")
                        break
                    }
                }
                if geometry.framesIn(child: c) < Geometry.childFrames { problems.append("child \(c): huge but partial") }
                if !bf.all(0) { problems.append("child \(c): huge but its bitfield is not empty") }
                if e.free != 0 { problems.append("child \(c): huge with counter \(e.free)") }
                let group = 1 << e.span
                let start = c & ~(group - 1)
                if start + group > geometry.children {
                    problems.append("child \(c): huge run of \(group) children passes the end")
                } else {
                    for g in start..<(start + group) where !(child(g).huge && child(g).span == e.span) {
                        problems.append("child \(c): huge run of \(group) children from \(start) is incomplete at \(g)")
                        break
                    }
                }
            } else {
                if tags != nil { problems += tagProblems(c) }
                let free = Geometry.childFrames - bf.allocated()
                if e.free != free { problems.append("child \(c): counter \(e.free) but bitfield has \(free) free") }
                if e.span != 0 { problems.append("child \(c): left locked by a split") }
                let frames = geometry.framesIn(child: c)
                if frames < Geometry.childFrames {
                    for f in frames..<Geometry.childFrames where bf.isFree(at: f, order: 0) {
                        problems.append("child \(c): frame \(f) beyond the end is free")
                        break
                    }
                }
            }
        }
        return problems
    }
}

/// What a recovery scan found and repaired.
public struct RecoveryReport: Sendable, Equatable, CustomStringConvertible {
    /// Children scanned.
    public var children = 0
    /// Child counters that differed from their bitfields and were recomputed.
    public var countersFixed = 0
    /// Bitfields under huge children that held set bits (a split cut short) and were cleared.
    public var bitfieldsCleared = 0
    /// Huge runs of several children found only partly taken or partly freed.
    public var partialHugeRuns = 0
    /// Children of such runs that were released.
    public var releasedHugeChildren = 0
    /// Partial last children whose tail bits were repaired.
    public var tailsRepaired = 0

    public init() {}

    /// Whether anything was repaired.
    public var repaired: Bool { countersFixed + bitfieldsCleared + partialHugeRuns + tailsRepaired > 0 }

    public var description: String {
        "\(children) children scanned, \(countersFixed) counters recomputed, \(bitfieldsCleared) bitfields under huge frames cleared, \(partialHugeRuns) partial huge runs released (\(releasedHugeChildren) children), \(tailsRepaired) tails repaired"
    }
}
