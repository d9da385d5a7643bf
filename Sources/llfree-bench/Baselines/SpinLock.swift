// The lock of the locked baselines: a test-and-test-and-set spin lock, like the kernel's zone
// lock (a spin lock, not a sleeping mutex). It yields the CPU after a while of spinning,
// because on a small shared VM the holder may have been descheduled.

import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A spin lock in a cache line of its own. Create with ``make()``, free with ``destroy()``.
struct SpinLock: @unchecked Sendable {
    let word: UnsafeMutablePointer<UnsafeAtomic<Bool>.Storage>

    static func make() -> SpinLock {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        return SpinLock(word: raw.bindMemory(to: UnsafeAtomic<Bool>.Storage.self, capacity: 1))
    }

    func destroy() { UnsafeMutableRawPointer(word).deallocate() }

    @inline(__always)
    func lock() {
        let atomic = UnsafeAtomic<Bool>(at: word)
        if !atomic.exchange(true, ordering: .acquiring) { return }
        lockSlow(atomic)
    }

    @inline(never)
    func lockSlow(_ atomic: UnsafeAtomic<Bool>) {
        var spins = 0
        while true {
            while atomic.load(ordering: .relaxed) {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            if !atomic.exchange(true, ordering: .acquiring) { return }
        }
    }

    @inline(__always)
    func unlock() {
        UnsafeAtomic<Bool>(at: word).store(false, ordering: .releasing)
    }
}
