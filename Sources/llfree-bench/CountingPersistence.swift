// A persistence that is deliberately not a no-op: it counts every stored/flush/fence call with
// an atomic increment. Timing LLFree with it next to VolatilePersistence shows that the
// volatile seam is specialised away (it must cost nothing) and checks the calls per operation
// (the core promises one fence per mutating operation).

import Atomics
import LLFree
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts the calls of the persistence seam. Each counter has its own cache line so the three
/// do not false-share; with several threads they are still shared between cores, which is the
/// price of counting, not of LLFree.
struct CountingPersistence: BenchPersistence, @unchecked Sendable {
    /// Three counters, 8 words (one cache line) apart.
    let slots: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    static let stride = 8

    static func make() -> CountingPersistence {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 3 * stride * 8, alignment: 64)
        raw.initializeMemory(as: Int.self, repeating: 0, count: 3 * stride)
        return CountingPersistence(slots: raw.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 3 * stride))
    }

    static var label: String { "counting" }

    @inline(__always)
    func counter(_ i: Int) -> UnsafeAtomic<Int> { UnsafeAtomic(at: slots + i * Self.stride) }

    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {
        counter(0).wrappingIncrement(ordering: .relaxed)
    }

    func flush(_ address: UnsafeMutableRawPointer) {
        counter(1).wrappingIncrement(ordering: .relaxed)
    }

    func fence() {
        counter(2).wrappingIncrement(ordering: .relaxed)
    }
    func zero(frame: UInt64, count: Int) -> Bool { false }

    func counts() -> PersistenceCounts? {
        PersistenceCounts(stored: counter(0).load(ordering: .relaxed),
                          flushes: counter(1).load(ordering: .relaxed),
                          fences: counter(2).load(ordering: .relaxed))
    }

    func destroy() { UnsafeMutableRawPointer(slots).deallocate() }
}
