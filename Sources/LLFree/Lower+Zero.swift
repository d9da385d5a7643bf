// Known-zero frames, beside the tags they live in: a free frame whose frame tag is
// ``FrameTag/zeroed`` holds zeros durably, so a get hands it out without writing it; every other
// frame a get takes is zeroed through the persistence seam and fenced before its tag is written.
// So no holder ever reads bytes of an earlier holder, and a crash can never make a frame marked
// zero hold old bytes: the mark is written only after its zeros were fenced, and a get replaces
// it (durably, by the get's fence) before the holder can write. All no-ops without owners.

import Atomics

extension Lower {
    /// Four ``FrameTag/zeroed`` tags, as one 64-bit load of four tags reads them.
    @inlinable static var zeroedWord: UInt64 { 0xF000_F000_F000_F000 }

    /// Zeroes the frames of the run of 2^order frames at `frame` (just taken by this thread) whose
    /// tag is not ``FrameTag/zeroed``, as runs of consecutive frames. Returns whether it wrote
    /// anything (the caller fences before tagging).
    @inlinable @inline(__always)
    func zeroUnlessZeroed(_ frame: UInt64, order: Int) -> Bool {
        let f = Int(frame)
        let n = 1 << order
        let zeroed = FrameTag.zeroed.raw
        var wrote = false
        var i = 0
        while i < n {
            if tagWord(f &+ i).load(ordering: .relaxed) == zeroed { i &+= 1; continue }
            var j = i &+ 1
            while j < n && tagWord(f &+ j).load(ordering: .relaxed) != zeroed { j &+= 1 }
            if p.zero(frame: UInt64(f &+ i), count: j &- i) { wrote = true }
            i = j
        }
        return wrote
    }

    /// ``zeroUnlessZeroed(_:order:)`` for `count` order-0 frames just taken; consecutive frames
    /// not known zero are zeroed together.
    @inlinable @inline(__always)
    func zeroUnlessZeroed(_ frames: UnsafeMutablePointer<UInt64>, _ count: Int) -> Bool {
        let zeroed = FrameTag.zeroed.raw
        var wrote = false
        var i = 0
        while i < count {
            let first = frames[i]
            if tagWord(Int(first)).load(ordering: .relaxed) == zeroed { i &+= 1; continue }
            var j = i &+ 1
            while j < count && frames[j] == first &+ UInt64(j &- i) && tagWord(Int(frames[j])).load(ordering: .relaxed) != zeroed { j &+= 1 }
            if p.zero(frame: first, count: j &- i) { wrote = true }
            i = j
        }
        return wrote
    }

    /// For a huge run of 2^span children from `start`, just taken: zeroes every frame not known
    /// zero and clears the ``FrameTag/zeroed`` tags (frame tags under a huge child are 0; the
    /// clearing is flushed, durable with the get's fence). Returns whether it wrote zeros.
    @inlinable
    func zeroUnlessZeroed(huge start: Int, span: Int) -> Bool {
        var wrote = false
        var c = start
        while c < start &+ (1 << span) {
            let first = c &* Geometry.childFrames
            let zeroed = FrameTag.zeroed.raw
            // Zero what is not known zero, as runs of consecutive frames.
            var i = 0
            while i < Geometry.childFrames {
                if tagWord(first &+ i).load(ordering: .relaxed) == zeroed { i &+= 1; continue }
                var j = i &+ 1
                while j < Geometry.childFrames && tagWord(first &+ j).load(ordering: .relaxed) != zeroed { j &+= 1 }
                if p.zero(frame: UInt64(first &+ i), count: j &- i) { wrote = true }
                i = j
            }
            // Clear the marks, four tags at a time, one flush per changed line. Nobody else
            // writes the tags of a child this thread has just taken huge.
            let raw = UnsafeMutableRawPointer(tags.unsafelyUnwrapped + first)
            var line = 0
            while line < Geometry.childFrames &* 2 {
                var changed = false
                var o = line
                while o < line &+ Geometry.lineSize {
                    if raw.load(fromByteOffset: o, as: UInt64.self) != 0 {
                        raw.storeBytes(of: 0, toByteOffset: o, as: UInt64.self)
                        changed = true
                    }
                    o &+= 8
                }
                if changed {
                    p.stored(raw + line, truth: true)
                    p.flush(raw + line)
                }
                line &+= Geometry.lineSize
            }
            c &+= 1
        }
        return wrote
    }

    /// Whether every frame of `child` is tagged ``FrameTag/zeroed`` (free and known zero).
    @inlinable
    public func allZeroed(_ child: Int) -> Bool {
        guard tags != nil else { return false }
        let raw = UnsafeRawPointer(tags.unsafelyUnwrapped + child * Geometry.childFrames)
        var o = 0
        while o < Geometry.childFrames * 2 {
            if raw.load(fromByteOffset: o, as: UInt64.self) != Self.zeroedWord { return false }
            o += 8
        }
        return true
    }

    /// Marks every frame of `child` known zero. The caller holds the child as a huge frame
    /// (nobody else writes its tags) and has fenced its zeros; the marks are flushed, durable
    /// with the caller's next fence.
    @inlinable
    func markZeroed(_ child: Int) {
        let raw = UnsafeMutableRawPointer(tags.unsafelyUnwrapped + child * Geometry.childFrames)
        var o = 0
        while o < Geometry.childFrames * 2 {
            raw.storeBytes(of: Self.zeroedWord, toByteOffset: o, as: UInt64.self)
            if o & (Geometry.lineSize - 1) == Geometry.lineSize - 8 {
                p.stored(raw + o, truth: true)
                p.flush(raw + o)
            }
            o += 8
        }
    }

    /// Frames of `children` known to be zero (by their tags).
    public func zeroedFrames(_ children: Range<Int>) -> Int {
        guard tags != nil else { return 0 }
        var n = 0
        for c in children where !child(c).huge {
            let raw = UnsafeRawPointer(tags.unsafelyUnwrapped + c * Geometry.childFrames)
            var o = 0
            while o < Geometry.childFrames * 2 {
                let w = raw.load(fromByteOffset: o, as: UInt64.self)
                if w == Self.zeroedWord { n += 4 }
                else if w != 0 {
                    for k in 0..<4 where (w >> UInt64(16 * k)) & 0xFFFF == UInt64(FrameTag.zeroed.raw) { n += 1 }
                }
                o += 8
            }
        }
        return n
    }

    /// Marks every frame that exists free and known zero: for a format over frames that read as
    /// zeros (a new or truncated file). Flushed, not fenced.
    func markAllZeroed() {
        guard tags != nil else { return }
        for c in 0..<geometry.children {
            if geometry.framesIn(child: c) == Geometry.childFrames {
                markZeroed(c)
                continue
            }
            for f in 0..<geometry.framesIn(child: c) {
                let i = c * Geometry.childFrames + f
                tagWord(i).store(FrameTag.zeroed.raw, ordering: .relaxed)
                p.stored(tagLine(i), truth: true)
                p.flush(tagLine(i))
            }
        }
    }
}
