// What opening a pool found and did, and how long each step took: the numbers behind
// "the pool was dirty, recovery repaired N counters in M ms".

import LLFree

/// The outcome of opening a pool.
public struct OpenReport: Sendable, CustomStringConvertible {
    /// The pool was dirty at open (not closed cleanly) and the recovery scan ran.
    public var wasDirty: Bool
    /// The generation written at open (one more than the stored one).
    public var generation: UInt64
    /// What the recovery scan repaired; nil when the pool was clean and no scan ran.
    public var recovery: RecoveryReport?
    /// Mapping the file (zero for an image the caller mapped).
    public var mapping: Duration = .zero
    /// Reading and validating the header.
    public var headerCheck: Duration = .zero
    /// Making the dirty state durable.
    public var markDirty: Duration = .zero
    /// The recovery scan (zero when clean).
    public var recoveryScan: Duration = .zero
    /// Building the volatile upper level from the child counters.
    public var upperLevel: Duration = .zero

    /// Sum of the steps.
    public var total: Duration { mapping + headerCheck + markDirty + recoveryScan + upperLevel }

    public var description: String {
        let state = wasDirty ? "dirty, recovered: \(recovery.map(String.init(describing:)) ?? "")" : "clean"
        return "opened \(state); generation \(generation); \(total) (map \(mapping), header \(headerCheck), mark dirty \(markDirty), scan \(recoveryScan), upper level \(upperLevel))"
    }
}
