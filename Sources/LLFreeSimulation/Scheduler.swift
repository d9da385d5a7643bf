// A seeded scheduler for simulated threads: real threads, but only one runs at a time, and the
// switch happens only at persistence events (and where code waits for another thread). The
// interleaving is therefore a function of the seed, and replays exactly.

import Foundation

/// Runs simulated threads one at a time, switching at persistence events.
final class Scheduler: @unchecked Sendable {
    let threads: Int
    let domain: SimulatedDomain
    var rng: SeededRandom
    let condition = NSCondition()
    var current = 0
    var alive: Set<Int>

    init(threads: Int, seed: UInt64, domain: SimulatedDomain) {
        self.threads = threads
        self.domain = domain
        rng = SeededRandom(seed: seed ^ 0x5C4E_D01E)
        alive = Set(0..<threads)
    }

    /// Runs `body(thread)` on each simulated thread; returns when all are done.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        let inner = domain.observer
        domain.observer = { [unowned self] event in
            inner?(event)
            if !self.domain.noSwitch { self.switchPoint(other: false) }
        }
        domain.spin = { [unowned self] in self.switchPoint(other: true) }
        domain.thread = 0
        current = 0
        var workers: [Thread] = []
        for t in 0..<threads {
            let worker = Thread { [unowned self] in
                self.waitForTurn(t)
                body(t)
                self.finish(t)
            }
            worker.stackSize = 8 << 20
            workers.append(worker)
            worker.start()
        }
        condition.lock()
        while !alive.isEmpty { condition.wait() }
        condition.unlock()
        domain.observer = inner
        domain.spin = nil
    }

    func waitForTurn(_ t: Int) {
        condition.lock()
        while current != t { condition.wait() }
        condition.unlock()
    }

    /// Hands the turn to a thread chosen by the seed (another one if `other`).
    func switchPoint(other: Bool) {
        let me = current
        condition.lock()
        var candidates = alive.sorted()
        if other && candidates.count > 1 { candidates.removeAll { $0 == me } }
        let next = candidates[Int.random(in: 0..<candidates.count, using: &rng)]
        current = next
        domain.thread = next
        condition.broadcast()
        while current != me { condition.wait() }
        condition.unlock()
    }

    func finish(_ t: Int) {
        condition.lock()
        alive.remove(t)
        if let next = alive.sorted().isEmpty ? nil : alive.sorted()[Int.random(in: 0..<alive.count, using: &rng)] {
            current = next
            domain.thread = next
        }
        condition.broadcast()
        condition.unlock()
    }
}
