// The simulated clients: a seeded mix of gets of every order and kind, puts of held runs (some
// splitting huge frames), gets of specific frames, refused double frees and drains. Each thread
// has its own random stream, so a schedule replays exactly.

import LLFree

/// Generates and runs the operations of the simulated clients.
/// Simulated threads use it only while they hold the scheduler's turn.
final class Workload: @unchecked Sendable {
    var rngs: [SeededRandom]
    let frames: UInt64
    let maxOrder: Int
    /// Wrong answers seen while running (a frame handed out twice, a double free accepted).
    var unexpected: [String] = []

    init(seed: UInt64, frames: UInt64, maxOrder: Int, threads: Int = 64) {
        rngs = (0..<threads).map { SeededRandom(seed: seed &+ UInt64($0) &* 0x1000_0001) }
        self.frames = frames
        self.maxOrder = maxOrder
    }

    func order(_ rng: inout SeededRandom) -> Int {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<50: return 0
        case 50..<78: return Int.random(in: 1...8, using: &rng)
        case 78..<94: return Geometry.hugeOrder
        default: return Int.random(in: (Geometry.hugeOrder + 1)...maxOrder, using: &rng)
        }
    }

    /// Runs one operation of `thread`, keeping `ledger` up to date. A refused put of a frame
    /// nobody holds is expected; anything else unexpected is recorded as a violation by the
    /// caller's checks (the live pool is validated at the end).
    func step<P: Persistence>(_ llfree: LLFree<P>, thread: Int, domain: SimulatedDomain, ledger: Ledger) {
        var rng = rngs[thread]
        defer { rngs[thread] = rng }
        let core = thread % llfree.cores
        let heldFrames = ledger.held.values.reduce(0) { $0 + (1 << $1) }
        let full = heldFrames * 4 > Int(frames) * 3
        let action = Int.random(in: 0..<100, using: &rng)
        domain.beginOperation()
        switch action {
        case 0..<45 where !full:
            let o = order(&rng)
            let kind = Kind.allCases.randomElement(using: &rng)!
            ledger.inFlight[thread] = .get(order: o, kind: kind)
            if let frame = try? llfree.get(order: o, core: core, kind: kind) {
                ledger.inFlight[thread] = nil
                if !ledger.acknowledgeGet(frame, order: o) { unexpected.append("get(order: \(o)) returned \(frame), which a client holds") }
            }
        case 45..<53:
            let o = Int.random(in: 0...Geometry.hugeOrder, using: &rng)
            let frame = UInt64.random(in: 0..<frames, using: &rng) & ~((1 << UInt64(o)) - 1)
            guard frame + (1 << UInt64(o)) <= frames else { break }
            ledger.inFlight[thread] = .getAt(frame: frame, order: o)
            if (try? llfree.get(at: frame, order: o, core: core)) != nil {
                ledger.inFlight[thread] = nil
                if !ledger.acknowledgeGet(frame, order: o) { unexpected.append("get(at: \(frame), order: \(o)) succeeded on a held frame") }
            }
        case 53..<58 where llfree.cores == 1:
            // A double free: only single-threaded, where "nobody holds it" is certain.
            let frame = UInt64.random(in: 0..<frames, using: &rng)
            guard ledger.held.keys.allSatisfy({ frame < $0 || frame >= $0 + (1 << UInt64(ledger.held[$0]!)) }) else { break }
            ledger.inFlight[thread] = .put(frame: frame, order: 0)
            if (try? llfree.put(frame, order: 0, core: core)) != nil {
                unexpected.append("put(\(frame), order: 0) of a frame nobody holds was accepted")
            }
            ledger.inFlight[thread] = nil
        case 58..<61:
            llfree.drain(core: core)
        default:
            guard let (start, o) = ledger.heldRun(Int.random(in: 0..<Int.max, using: &rng)) else { break }
            var frame = start, put = o
            if o == Geometry.hugeOrder && Int.random(in: 0..<4, using: &rng) == 0 {
                put = Int.random(in: 0...3, using: &rng)
                frame = start + (UInt64.random(in: 0..<(512 >> UInt64(put)), using: &rng) << UInt64(put))
            }
            ledger.inFlight[thread] = .put(frame: frame, order: put)
            ledger.beginPut(frame, order: put)
            do throws(LLFreeError) {
                try llfree.put(frame, order: put, core: core)
            } catch {
                unexpected.append("put(\(frame), order: \(put)) of a held run was refused: \(error)")
            }
            ledger.inFlight[thread] = nil
        }
    }
}
