// What one run of one benchmark on one allocator measured, averaged over its threads.

/// Nanoseconds per operation of one run, and the persistence calls per operation if counted.
struct Sample: Sendable {
    /// Per get (bulk, rand) or per get+put pair (repeat).
    var getNs: Double
    /// Per put (bulk, rand) or per get+put pair (repeat).
    var putNs: Double
    /// Persistence calls per operation of the get phase (per pair for repeat).
    var getCalls: PersistenceRates?
    /// Persistence calls per operation of the put phase.
    var putCalls: PersistenceRates?
}
