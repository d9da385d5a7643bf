// Model-based test: long seeded random sequences of get/put over all orders and kinds, each step
// checked against a simple reference model, validate() after each batch. A failure names the
// seed and step, which replay it exactly.

import Testing
@testable import LLFree

/// The reference: which frames are allocated in a bitfield ("base") and which children are huge
/// (with their span), the rules of LLFree written as plainly as possible.
struct ReferenceModel {
    let frames: Int
    var base: [Bool]
    var huge: [Int?]

    init(frames: Int) {
        self.frames = frames
        base = Array(repeating: false, count: frames)
        huge = Array(repeating: nil, count: (frames + 511) / 512)
    }

    func isFree(_ frame: Int, order: Int) -> Bool {
        let n = 1 << order
        guard frame + n <= frames else { return false }
        for f in frame..<(frame + n) where base[f] || huge[f / 512] != nil { return false }
        return true
    }

    /// Whether any free aligned run of `order` exists (for out-of-memory answers).
    func anyFree(order: Int) -> Bool {
        stride(from: 0, to: frames, by: 1 << order).contains { isFree($0, order: order) }
    }

    mutating func allocate(_ frame: Int, order: Int) {
        if order >= 9 {
            for c in (frame / 512)..<((frame / 512) + (1 << (order - 9))) { huge[c] = order - 9 }
        } else {
            for f in frame..<(frame + (1 << order)) { base[f] = true }
        }
    }

    /// Applies a put if LLFree's rules allow it; returns whether they did.
    mutating func put(_ frame: Int, order: Int) -> Bool {
        let n = 1 << order
        guard frame % n == 0, frame + n <= frames else { return false }
        let child = frame / 512
        if order >= 9 {
            let span = order - 9
            for c in child..<(child + (1 << span)) where huge[c] != span { return false }
            for c in child..<(child + (1 << span)) { huge[c] = nil }
            return true
        }
        if let span = huge[child] {
            guard span == 0 else { return false }
            huge[child] = nil
            for f in (child * 512)..<(child * 512 + 512) { base[f] = true }
        }
        guard (frame..<(frame + n)).allSatisfy({ base[$0] }) else { return false }
        for f in frame..<(frame + n) { base[f] = false }
        return true
    }

    var freeFrames: Int {
        var n = 0
        for f in 0..<frames where !base[f] && huge[f / 512] == nil { n += 1 }
        return n
    }
}

@Suite struct ModelTests {
    struct Case: CustomStringConvertible, Sendable {
        var seed: UInt64
        var frames: UInt64
        var treeChildren: Int
        var cores: Int
        var steps: Int
        var description: String { "seed \(seed), \(frames) frames, trees of \(treeChildren), \(cores) cores" }
    }

    static let cases: [Case] = [
        Case(seed: 1, frames: 3 * 4 * 512 - 100, treeChildren: 4, cores: 2, steps: 6000),
        Case(seed: 2, frames: 8 * 2 * 512, treeChildren: 2, cores: 3, steps: 6000),
        Case(seed: 3, frames: 2 * 32 * 512, treeChildren: 32, cores: 4, steps: 6000),
        Case(seed: 4, frames: 700, treeChildren: 1, cores: 1, steps: 3000),
        Case(seed: 5, frames: 16 * 512, treeChildren: 8, cores: 2, steps: 8000),
    ]

    @Test(arguments: cases)
    func randomSequencesMatchTheModel(_ c: Case) throws {
        let a = try TestAllocator(frames: c.frames, treeChildren: c.treeChildren, cores: c.cores)
        let llfree = a.llfree
        var model = ReferenceModel(frames: Int(c.frames))
        var rng = SeededRandom(seed: c.seed)
        var held: [(frame: Int, order: Int)] = []
        let maxOrder = llfree.geometry.maxOrder
        for step in 0..<c.steps {
            let at = "\(c), step \(step)"
            let core = Int.random(in: 0..<c.cores, using: &rng)
            let action = Int.random(in: 0..<100, using: &rng)
            // Mostly small orders, sometimes huge ones, like real use.
            let order = Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 0...maxOrder, using: &rng) : Int.random(in: 0...2, using: &rng)
            if action < 50 || held.isEmpty {
                let kind = Kind.allCases.randomElement(using: &rng)!
                do {
                    let frame = Int(try llfree.get(order: order, core: core, kind: kind))
                    #expect(frame % (1 << order) == 0, "\(at): misaligned")
                    guard model.isFree(frame, order: order) else {
                        Issue.record("\(at): got \(frame) of order \(order), which the model holds")
                        return
                    }
                    model.allocate(frame, order: order)
                    held.append((frame, order))
                } catch {
                    let outOfMemory = error == .outOfMemory(order: order)
                    #expect(outOfMemory, "\(at): unexpected \(error)")
                    #expect(!model.anyFree(order: order), "\(at): out of memory for order \(order) but a free run exists")
                }
            } else if action < 85 {
                // Put something we hold, sometimes only a part of a huge frame (a split).
                let i = Int.random(in: 0..<held.count, using: &rng)
                var (frame, o) = held[i]
                if o == 9 && Int.random(in: 0..<3, using: &rng) == 0 {
                    let part = Int.random(in: 0...3, using: &rng)
                    frame += Int.random(in: 0..<(512 >> part), using: &rng) << part
                    o = part
                    held.remove(at: i)
                    // The rest of the huge frame becomes base frames we still hold.
                    let start = frame & ~511
                    for f in stride(from: start, to: start + 512, by: 1 << part) where f != frame { held.append((f, part)) }
                } else {
                    held.remove(at: i)
                }
                let allowed = model.put(frame, order: o)
                #expect(allowed, "\(at): model refused a put of \(frame)/\(o)")
                do { try llfree.put(UInt64(frame), order: o, core: core) } catch {
                    Issue.record("\(at): put \(frame)/\(o) refused: \(error)")
                    return
                }
            } else if action < 95 {
                // A random put, usually invalid: allocator and model must agree.
                let frame = Int.random(in: 0..<Int(c.frames), using: &rng) & ~((1 << order) - 1)
                let before = llfree.freeFrames
                var copy = model
                let allowed = copy.put(frame, order: order)
                do {
                    try llfree.put(UInt64(frame), order: order, core: core)
                    #expect(allowed, "\(at): allocator accepted put \(frame)/\(order) that the model refuses")
                    model = copy
                    // Which runs we still hold is re-derived from the model.
                    resync(&held, model)
                } catch {
                    #expect(!allowed, "\(at): allocator refused put \(frame)/\(order) that the model allows: \(error)")
                    #expect(llfree.freeFrames == before, "\(at): a refused put changed the counters")
                }
            } else {
                // A specific frame.
                let frame = Int.random(in: 0..<Int(c.frames), using: &rng) & ~((1 << order) - 1)
                do {
                    try llfree.get(at: UInt64(frame), order: order, core: core)
                    #expect(model.isFree(frame, order: order), "\(at): get(at: \(frame)/\(order)) of a held frame")
                    model.allocate(frame, order: order)
                    held.append((frame, order))
                } catch {
                    #expect(!model.isFree(frame, order: order), "\(at): get(at: \(frame)/\(order)) refused a free run: \(error)")
                }
            }
            if step % 100 == 99 {
                #expect(llfree.validate() == [], "\(at)")
                #expect(llfree.freeFrames == model.freeFrames, "\(at)")
                for _ in 0..<32 {
                    let f = Int.random(in: 0..<Int(c.frames), using: &rng)
                    #expect(try llfree.isFree(UInt64(f), order: 0) == model.isFree(f, order: 0), "\(at): frame \(f)")
                }
            }
        }
        // Give everything back: the allocator is empty again.
        for (frame, o) in held { try llfree.put(UInt64(frame), order: o, core: 0) }
        #expect(llfree.validate() == [])
        #expect(llfree.freeFrames == Int(c.frames))
        #expect(llfree.freeHugeFrames == Int(c.frames) / 512)
    }

    /// Rebuilds the list of held runs from the model after a put freed an unknown part of it.
    func resync(_ held: inout [(frame: Int, order: Int)], _ model: ReferenceModel) {
        var result: [(frame: Int, order: Int)] = []
        var c = 0
        while c < model.huge.count {
            if let span = model.huge[c] {
                result.append((c * 512, span + 9))
                c += 1 << span
                continue
            }
            for f in (c * 512)..<min(c * 512 + 512, model.frames) where model.base[f] { result.append((f, 0)) }
            c += 1
        }
        held = result
    }
}

extension ReferenceModel: CustomStringConvertible {
    /// Short, so that a failed expectation does not print every frame.
    var description: String { "model(\(frames) frames, \(freeFrames) free)" }
}
