// One line of the benchmark's output: the median over runs of one benchmark, order, thread
// count and allocator.

/// A result: medians over `runs` runs.
struct ResultRow: Sendable {
    var bench: BenchKind
    var allocator: String
    var order: Int
    var threads: Int
    var getNs: Double
    var putNs: Double
    var runs: Int
    /// Operations per thread in each run.
    var allocs: Int
    var memoryGiB: Int
    var metadataBytesPerGiB: Int
    var getCalls: PersistenceRates?
    var putCalls: PersistenceRates?

    /// Median of `values` (mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
