// Persistence calls per allocator operation, derived from two PersistenceCounts snapshots.

/// Average `stored`, `flush` and `fence` calls per operation.
struct PersistenceRates: Sendable {
    var stored: Double
    var flushes: Double
    var fences: Double

    init(_ counts: PersistenceCounts, operations: Int) {
        let n = Double(max(operations, 1))
        stored = Double(counts.stored) / n
        flushes = Double(counts.flushes) / n
        fences = Double(counts.fences) / n
    }
}
