// A reusable barrier for the benchmark threads, so every timed phase starts on all threads at
// once. Spinning rather than sleeping: threads leave it within nanoseconds of each other.

import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sense-reversing spin barrier for a fixed number of threads.
final class Barrier: @unchecked Sendable {
    let parties: Int
    let arrived = ManagedAtomic<Int>(0)
    let generation = ManagedAtomic<Int>(0)

    init(parties: Int) { self.parties = parties }

    /// Returns once all `parties` threads have called it (for this round).
    func wait() {
        let gen = generation.load(ordering: .acquiring)
        if arrived.wrappingIncrementThenLoad(ordering: .acquiringAndReleasing) == parties {
            arrived.store(0, ordering: .relaxed)
            generation.wrappingIncrement(ordering: .releasing)
            return
        }
        var spins = 0
        while generation.load(ordering: .acquiring) == gen {
            spins += 1
            // More threads than CPUs (or a noisy neighbour): let the others run.
            if spins & 255 == 0 { sched_yield() }
        }
    }
}
