// The pool's open report as metrics: the server's metrics know recovery reports, not the pool.

import LLFreePool
import LLFreeServer

extension ServerMetrics {
    /// Records what opening the pool found: whether recovery ran, how long it took, what it repaired.
    public func recordOpen(_ report: OpenReport) {
        recordOpen(recovered: report.wasDirty, recovery: report.recovery, scan: report.recoveryScan, total: report.total)
    }
}
