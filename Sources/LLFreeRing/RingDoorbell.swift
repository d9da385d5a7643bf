// Wake-ups across the ring: a side that finds nothing to do spins for a bounded time (a reply
// or request usually follows within microseconds), then sleeps on a futex word in the shared
// memory until the other side rings it; so no core is burnt while a ring is idle. The other side
// rings only when the sleeper said it sleeps, so a busy ring makes no system call at all. The
// sleeper's flag store and the ringer's position store are each followed by a full fence before
// the other's load (Dekker's pattern): at least one of them sees the other's, so no wake-up is
// lost. A sleep is also bounded by a timeout, after which the sleeper looks at everything again.

import Atomics
import CLinuxShims
#if canImport(Glibc)
import Glibc
#endif

/// One side's doorbell: the futex word it sleeps on and its "sleeping" flag.
public struct RingDoorbell {
    @usableFromInline let wake: UnsafeMutableRawPointer
    @usableFromInline let sleeping: UnsafeMutableRawPointer

    init(wake: UnsafeMutableRawPointer, sleeping: UnsafeMutableRawPointer) {
        self.wake = wake
        self.sleeping = sleeping
    }

    @usableFromInline var wakeWord: UnsafeAtomic<UInt32> { UnsafeAtomic(at: wake.assumingMemoryBound(to: UInt32.AtomicRepresentation.self)) }
    @usableFromInline var sleepingWord: UnsafeAtomic<UInt32> { UnsafeAtomic(at: sleeping.assumingMemoryBound(to: UInt32.AtomicRepresentation.self)) }

    /// The owner's wait: returns true as soon as `ready()` is; else spins for `spin`, then sleeps
    /// until rung or for `sleep` at most, and returns `ready()` then (false: the caller looks at
    /// what else may have changed, a stop or a closed peer, and waits again).
    /// The first part of a spin that does not yield the CPU.
    public static var busy: Duration { .microseconds(5) }

    @inlinable
    public func wait(spin: Duration, sleep: Duration, until ready: () -> Bool) -> Bool {
        if ready() { return true }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + spin, yielding = start + min(spin, Self.busy)
        var spins = 0
        var yields = false
        while true {
            // Busy at first; then each turn offers the CPU to whatever else is runnable, so that
            // with more spinners than cores (clients and ring servers on a small machine) the peer
            // that would end the wait is not kept from running.
            if yields { sched_yield() } else { llfree_cpu_relax() }
            if ready() { return true }
            spins &+= 1
            if yields || spins & 31 == 0 {
                let now = clock.now
                if now >= deadline { break }
                yields = now >= yielding
            }
        }
        let seen = wakeWord.load(ordering: .acquiring)
        sleepingWord.store(1, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if ready() {
            sleepingWord.store(0, ordering: .relaxed)
            return true
        }
        let (seconds, attoseconds) = sleep.components
        _ = llfree_futex_wait(wake.assumingMemoryBound(to: UInt32.self), seen, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        sleepingWord.store(0, ordering: .relaxed)
        return ready()
    }

    /// Wakes the owner whatever its flag says (the flag is in memory the peer can write): for
    /// a stop, which must not wait out a sleep's timeout.
    public func wakeAlways() {
        wakeWord.wrappingIncrement(ordering: .releasing)
        _ = llfree_futex_wake(wake.assumingMemoryBound(to: UInt32.self), 1)
    }

    /// The other side's ring, after it published: wakes the owner if it sleeps.
    @inlinable
    public func ring() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        guard sleepingWord.load(ordering: .relaxed) != 0 else { return }
        wakeWord.wrappingIncrement(ordering: .releasing)
        _ = llfree_futex_wake(wake.assumingMemoryBound(to: UInt32.self), 1)
    }
}
