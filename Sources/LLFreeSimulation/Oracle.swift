// The oracle: what must be true of a pool recovered from a crash image, judged against what the
// clients were told. Every acknowledged get is still allocated, every acknowledged put is free,
// no frame is free and held at once, leaked frames are bounded by the operations in flight,
// counters equal the bitfields.

import LLFree

/// The verdict on one recovered pool.
public struct Verdict: Sendable {
    /// What is wrong; empty when the pool is correct.
    public var violations: [String] = []
    /// Frames allocated that no client holds (from operations cut short).
    public var leaked = 0
    /// Frames the operations in flight may leave allocated.
    public var leakBudget = 0
}

/// Judges recovered pools.
public enum Oracle {
    /// Checks `llfree`, freshly recovered, against `ledger`.
    public static func judge<P: Persistence>(_ llfree: LLFree<P>, ledger: Ledger) -> Verdict {
        var verdict = Verdict()
        let frames = Int(llfree.geometry.frames)
        // 0: must be free, 1: must be allocated (held), 2: open (an operation in flight touches it).
        var expect = [UInt8](repeating: 0, count: frames)
        for (frame, order) in ledger.held {
            for f in Int(frame)..<(Int(frame) + (1 << order)) { expect[f] = 1 }
        }
        // A get in flight may leave one naturally aligned run of its order allocated; gets of a
        // given frame and puts in flight leave their own frames open (either state is right).
        var gets: [Int] = []
        for (_, op) in ledger.inFlight {
            switch op {
            case .get(let order, _):
                verdict.leakBudget += 1 << order
                gets.append(order)
            case .getAt(let frame, let order), .put(let frame, let order):
                for f in Int(frame)..<(Int(frame) + (1 << order)) { expect[f] = 2 }
            }
        }
        var lost: [Int] = [], leaked: [Int] = []
        for f in 0..<frames {
            let allocated = !llfree.lower.isFree(frame: UInt64(f), order: 0)
            switch expect[f] {
            case 1 where !allocated: lost.append(f)
            case 0 where allocated: verdict.leaked += 1; leaked.append(f)
            default: break
            }
        }
        if !lost.isEmpty {
            verdict.violations.append("acknowledged frames are free after recovery: \(ranges(lost))")
        }
        if !leaked.isEmpty && !coveredByRuns(leaked, orders: gets) {
            verdict.violations.append("\(verdict.leaked) frames allocated that no client holds (\(ranges(leaked))), more than one aligned run per get in flight (orders \(gets.sorted())) accounts for")
        }
        // Held huge runs must still be huge runs of the same size, so that their put works.
        for (frame, order) in ledger.held where order >= Geometry.hugeOrder {
            let first = Int(frame) / Geometry.childFrames
            let touched = (Int(frame)..<(Int(frame) + (1 << order))).contains { expect[$0] == 2 }
            if touched { continue }
            for c in first..<(first + (1 << (order - Geometry.hugeOrder))) {
                let child = llfree.lower.child(c)
                if !(child.huge && child.span == order - Geometry.hugeOrder) {
                    verdict.violations.append("held huge run \(frame) of order \(order): child \(c) is \(child)")
                    break
                }
            }
        }
        verdict.violations += llfree.validate().map { "after recovery: \($0)" }
        return verdict
    }

    /// Whether the sorted frames `leaked` lie within one naturally aligned run per order in
    /// `orders` (greedy, largest order first: each takes the run holding most leaked frames).
    static func coveredByRuns(_ leaked: [Int], orders: [Int]) -> Bool {
        var rest = leaked
        for order in orders.sorted(by: >) where !rest.isEmpty {
            var counts: [Int: Int] = [:]
            for f in rest { counts[f >> order, default: 0] += 1 }
            let best = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
            rest.removeAll { $0 >> order == best }
        }
        return rest.isEmpty
    }

    /// "3, 7-9, 12" for a sorted list of frames.
    static func ranges(_ frames: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < frames.count && parts.count < 8 {
            var j = i
            while j + 1 < frames.count && frames[j + 1] == frames[j] + 1 { j += 1 }
            parts.append(i == j ? "\(frames[i])" : "\(frames[i])-\(frames[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ") + (i < frames.count ? ", ..." : "")
    }
}
