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

    /// The next step of `thread`, drawn from its random stream (the workload's mix).
    func generate(thread: Int, cores: Int, ledger: Ledger) -> Step {
        var rng = rngs[thread]
        defer { rngs[thread] = rng }
        let heldFrames = ledger.held.values.reduce(0) { $0 + (1 << $1) }
        let full = heldFrames * 4 > Int(frames) * 3
        let action = Int.random(in: 0..<100, using: &rng)
        switch action {
        case 0..<45 where !full:
            let o = order(&rng)
            return .get(order: o, kind: Kind.allCases.randomElement(using: &rng)!)
        case 45..<53:
            let o = Int.random(in: 0...Geometry.hugeOrder, using: &rng)
            return .getAt(frame: UInt64.random(in: 0..<frames, using: &rng) & ~((1 << UInt64(o)) - 1), order: o)
        case 53..<58 where cores == 1:
            return .doubleFree(frame: UInt64.random(in: 0..<frames, using: &rng))
        case 58..<60:
            return .drain
        case 60 where cores == 1:
            return .reopen
        default:
            let n = Int.random(in: 0..<1 << 30, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let o = Int.random(in: 0...3, using: &rng)
                return .split(held: n, order: o, slot: Int.random(in: 0..<(512 >> o), using: &rng))
            }
            return .put(held: n)
        }
    }

    /// Runs `step` as `thread`, keeping `ledger` up to date. Steps that do not apply to the
    /// current state (nothing held, a frame that is held) do nothing. Wrong answers go to
    /// ``unexpected``.
    func execute<P: Persistence>(_ step: Step, on llfree: LLFree<P>, thread: Int, domain: SimulatedDomain, ledger: Ledger) {
        let core = thread % llfree.cores
        domain.beginOperation()
        switch step {
        case .get(let o, let kind):
            ledger.inFlight[thread] = .get(order: o, kind: kind)
            if let frame = try? llfree.get(order: o, core: core, kind: kind) {
                if !ledger.acknowledgeGet(frame, order: o) { unexpected.append("get(order: \(o)) returned \(frame), which a client holds") }
            }
        case .getAt(let frame, let o):
            guard frame + (1 << UInt64(o)) <= frames else { return }
            ledger.inFlight[thread] = .getAt(frame: frame, order: o)
            if (try? llfree.get(at: frame, order: o, core: core)) != nil {
                if !ledger.acknowledgeGet(frame, order: o) { unexpected.append("get(at: \(frame), order: \(o)) succeeded on a held frame") }
            }
        case .doubleFree(let frame):
            // Only single-threaded, where "nobody holds it" is certain.
            guard llfree.cores == 1, frame < frames,
                  ledger.held.allSatisfy({ frame < $0.key || frame >= $0.key + (1 << UInt64($0.value)) }) else { return }
            ledger.inFlight[thread] = .put(frame: frame, order: 0)
            if (try? llfree.put(frame, order: 0, core: core, waiting: domain.waiting)) != nil {
                unexpected.append("put(\(frame), order: 0) of a frame nobody holds was accepted")
            }
        case .drain:
            llfree.drain(core: core)
        case .reopen:
            preconditionFailure("the explorer closes and reopens the pool itself")
        case .put(let n), .split(let n, _, _):
            guard let (start, o) = ledger.heldRun(n) else { return }
            var frame = start, put = o
            if case .split(_, let part, let slot) = step, o == Geometry.hugeOrder {
                put = part
                frame = start + (UInt64(slot % (512 >> part)) << UInt64(part))
            }
            ledger.inFlight[thread] = .put(frame: frame, order: put)
            ledger.beginPut(frame, order: put)
            do throws(LLFreeError) {
                try llfree.put(frame, order: put, core: core, waiting: domain.waiting)
            } catch {
                unexpected.append("put(\(frame), order: \(put)) of a held run was refused: \(error)")
            }
        }
        ledger.inFlight[thread] = nil
    }
}
