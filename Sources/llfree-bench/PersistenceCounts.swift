// A snapshot of how often an allocator called its persistence seam; the benchmark divides the
// difference of two snapshots by the operations in between to report calls per operation.

/// Numbers of `stored`, `flush` and `fence` calls made so far.
struct PersistenceCounts: Sendable, Equatable {
    var stored = 0
    var flushes = 0
    var fences = 0

    static func - (lhs: PersistenceCounts, rhs: PersistenceCounts) -> PersistenceCounts {
        PersistenceCounts(stored: lhs.stored - rhs.stored, flushes: lhs.flushes - rhs.flushes, fences: lhs.fences - rhs.fences)
    }

    static func + (lhs: PersistenceCounts, rhs: PersistenceCounts) -> PersistenceCounts {
        PersistenceCounts(stored: lhs.stored + rhs.stored, flushes: lhs.flushes + rhs.flushes, fences: lhs.fences + rhs.fences)
    }
}
