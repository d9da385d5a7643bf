// Settling the owner tags of a set of children after open: the recovery rules for tags. Runs
// after ``Lower/recover()`` (which made the bitfields and huge flags consistent), before any get
// or put touches those children (the upper level gates each tree until it is settled), so it
// runs alone on its children.

import Atomics

extension Lower {
    /// Applies the tag recovery rules to `children` and returns what it did. Durable when it
    /// returns (flushed and fenced).
    ///
    /// - A base run is kept if its first frame's tag is a head of its order at an aligned
    ///   position, every later frame's tag is "interior" of the same owner, all its bits are set
    ///   and `keep(owner)`. Kept runs never overlap (a kept run's tags cover the places another
    ///   run's head would need).
    /// - A huge run is kept if the huge tag of its first child names its span (or "being split",
    ///   for order 9) and `keep(owner)`.
    /// - Everything else is freed: set bits outside kept runs (allocations whose tags never
    ///   became durable: never acknowledged), huge runs without a tag; and every tag outside a
    ///   kept run is cleared, except a known-zero mark on a free base frame. Counters are
    ///   recomputed for the children that changed.
    /// - `count(owner, frames)` is called for each kept run.
    /// - `clean`: the lower level was closed cleanly, so no tag is stray (every get's tags and
    ///   bits became durable together, every put cleared its tags before its bits): free children
    ///   and the frame tags under huge runs are not read, which is most of a large pool.
    public func settle(_ children: Range<Int>, keep: (OwnerID) -> Bool, count: (OwnerID, Int) -> Void, clean: Bool = false) -> SettleReport {
        var report = SettleReport()
        guard let tags, hugeTags != nil else { return report }
        var c = children.lowerBound
        while c < children.upperBound {
            let e = child(c)
            if e.huge {
                let group = 1 << e.span
                let t = hugeTag(c)
                if t.tags(span: e.span) && keep(t.owner) {
                    if t.span == HugeTag.splittingSpan {
                        // A split cut short before its huge flag was cleared: still one frame.
                        hugeTagWord(c).store(HugeTag(owner: t.owner, span: 0).raw, ordering: .relaxed)
                        p.stored(hugeTagLine(c), truth: true)
                        p.flush(hugeTagLine(c))
                    }
                    count(t.owner, group * Geometry.childFrames)
                    report.keptRuns += 1
                } else {
                    // Never acknowledged, or its owner is gone (ephemeral): free the whole run.
                    for g in c..<(c + group) {
                        entry(g).store(Child(free: Geometry.childFrames).raw, ordering: .relaxed)
                        p.stored(entryLine(g), truth: true)
                        p.flush(entryLine(g))
                    }
                    if t.raw != 0 { clearHugeTag(c) }
                    report.freedFrames += group * Geometry.childFrames
                    report.freedRuns += 1
                }
                for g in c..<(c + group) {
                    if g != c && hugeTag(g).raw != 0 { clearHugeTag(g); report.clearedTags += 1 }
                    if !clean { report.clearedTags += clearTags(of: g) }
                }
                c += group
                continue
            }
            if hugeTag(c).raw != 0 { clearHugeTag(c); report.clearedTags += 1 }
            if clean && !e.isLocked && e.free == geometry.framesIn(child: c) {
                c += 1
                continue
            }
            settleBase(c, tags: tags, keep: keep, count: count, &report)
            c += 1
        }
        p.fence()
        return report
    }

    /// Clears every frame tag of `child` that is not 0 (under a huge child, or freed); returns
    /// how many.
    func clearTags(of child: Int) -> Int {
        let raw = UnsafeMutableRawPointer(tags.unsafelyUnwrapped + child * Geometry.childFrames)
        var cleared = 0
        var line = 0
        while line < Geometry.childFrames * 2 {
            var changed = false
            var o = line
            while o < line + Geometry.lineSize {
                if raw.load(fromByteOffset: o, as: UInt64.self) != 0 {
                    for k in 0..<4 where raw.load(fromByteOffset: o + 2 * k, as: UInt16.self) != 0 { cleared += 1 }
                    raw.storeBytes(of: 0, toByteOffset: o, as: UInt64.self)
                    p.stored(raw + o, truth: true)
                    changed = true
                }
                o += 8
            }
            if changed { p.flush(raw + line) }
            line += Geometry.lineSize
        }
        return cleared
    }

    func settleBase(_ c: Int, tags: UnsafeMutablePointer<UnsafeAtomic<UInt16>.Storage>, keep: (OwnerID) -> Bool,
                    count: (OwnerID, Int) -> Void, _ report: inout SettleReport) {
        let bf = bitfield(c)
        let frames = geometry.framesIn(child: c)
        let raw = UnsafeMutableRawPointer(tags + c * Geometry.childFrames)
        var rows = (0..<Geometry.rows).map { bf.row($0).load(ordering: .relaxed) }
        let original = rows
        func bit(_ i: Int) -> Bool { rows[i / 64] & (1 << UInt64(i % 64)) != 0 }
        func tagAt(_ i: Int) -> FrameTag { FrameTag(raw: raw.load(fromByteOffset: i * 2, as: UInt16.self)) }
        var tagLinesChanged = Set<Int>()
        func clearTag(_ i: Int) {
            raw.storeBytes(of: 0, toByteOffset: i * 2, as: UInt16.self)
            p.stored(raw + i * 2, truth: true)
            tagLinesChanged.insert(i * 2 / Geometry.lineSize)
            report.clearedTags += 1
        }
        var i = 0
        while i < frames {
            // Untagged and free, four at a time: the common case of a sparse pool.
            if i & 3 == 0, i + 4 <= frames, raw.load(fromByteOffset: i * 2, as: UInt64.self) == 0,
               (rows[i / 64] >> UInt64(i % 64)) & 0xF == 0 {
                i += 4
                continue
            }
            let t = tagAt(i)
            if t.isHead, i & ((1 << t.order) - 1) == 0, i + (1 << t.order) <= frames, keep(t.owner) {
                let n = 1 << t.order
                let interior = FrameTag(interior: t.owner)
                var valid = true
                for j in i..<(i + n) where !bit(j) || (j != i && tagAt(j) != interior) { valid = false; break }
                if valid {
                    count(t.owner, n)
                    report.keptRuns += 1
                    i += n
                    continue
                }
            }
            // Not the start of a kept run, and not inside one: free.
            if bit(i) {
                rows[i / 64] &= ~(1 << UInt64(i % 64))
                report.freedFrames += 1
            }
            // A known-zero mark stays on a frame that is free now: nobody wrote it since its
            // zeros were fenced (a get replaces the mark, durably, before its holder can write).
            if t.raw != 0 && t != .zeroed { clearTag(i) }
            i += 1
        }
        for line in tagLinesChanged.sorted() { p.flush(raw + line * Geometry.lineSize) }
        if rows != original {
            for r in 0..<Geometry.rows where rows[r] != original[r] {
                bf.row(r).store(rows[r], ordering: .relaxed)
                p.stored(bf.line, truth: true)
            }
            p.flush(bf.line)
            report.freedRuns += 1
            entry(c).store(Child(free: Geometry.childFrames - bf.allocated()).raw, ordering: .relaxed)
            p.stored(entryLine(c), truth: true)
            p.flush(entryLine(c))
        }
    }
}

extension Lower {
    /// Problems of the tags of base child `c` against its bitfield: every allocated frame lies in
    /// exactly one fully tagged run, and no free frame is tagged (but known zero).
    func tagProblems(_ c: Int) -> [String] {
        var problems: [String] = []
        if hugeTag(c).raw != 0 { problems.append("child \(c): huge tag \(hugeTag(c)) on a child that is not huge") }
        let frames = geometry.framesIn(child: c)
        let base = UInt64(c * Geometry.childFrames)
        let bf = bitfield(c)
        func bit(_ i: Int) -> Bool { bf.row(i / 64).load(ordering: .relaxed) & (1 << UInt64(i % 64)) != 0 }
        var i = 0
        while i < frames && problems.count < 4 {
            let t = frameTag(base + UInt64(i))
            if t.isHead {
                let n = 1 << t.order
                guard i % n == 0, i + n <= frames else { problems.append("child \(c): frame \(i): \(t) is misplaced"); i += 1; continue }
                for j in i..<(i + n) where !bit(j) || (j != i && frameTag(base + UInt64(j)) != FrameTag(interior: t.owner)) {
                    problems.append("child \(c): run at frame \(i) (\(t)) has frame \(j) \(bit(j) ? "tagged \(frameTag(base + UInt64(j)))" : "free")")
                    break
                }
                i += n
                continue
            }
            if bit(i) { problems.append("child \(c): frame \(i) is allocated but \(t)") }
            else if t.raw != 0 && t != .zeroed { problems.append("child \(c): frame \(i) is free but \(t)") }
            i += 1
        }
        return problems
    }
}

/// What settling the owner tags of some children found and did.
public struct SettleReport: Sendable, Equatable, CustomStringConvertible {
    /// Runs kept (their owner holds them).
    public var keptRuns = 0
    /// Frames freed: allocated without a durable tag (never acknowledged), or held by an owner
    /// that does not keep its frames (ephemeral, or gone).
    public var freedFrames = 0
    /// Children (base) or huge runs in which frames were freed.
    public var freedRuns = 0
    /// Tags cleared outside kept runs.
    public var clearedTags = 0

    public init() {}

    public static func + (a: SettleReport, b: SettleReport) -> SettleReport {
        var r = a
        r.keptRuns += b.keptRuns
        r.freedFrames += b.freedFrames
        r.freedRuns += b.freedRuns
        r.clearedTags += b.clearedTags
        return r
    }

    public var description: String {
        "\(keptRuns) runs kept, \(freedFrames) frames freed (\(freedRuns) places), \(clearedTags) tags cleared"
    }
}
