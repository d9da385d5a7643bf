// The pool's part of a stats reply (free frames, free runs of every order, tree occupancy) costs
// scans proportional to the pool's size. Only gets and puts change it, and each of them moves the
// daemon's counters of frames allocated, frames freed or errors; so a snapshot stays exact while
// the sum of those counters (the generation) is unchanged, and is shared by every event loop.
// Thousands of pipelined stats then cost one scan, and stats stay exact when no operation is in
// flight, as the protocol promises (a time-based cache would not be). A scan that is needed runs
// on a thread of its own, never on an event loop, so even a client alternating gets and stats
// stalls no loop: its connection waits for the scan while the loop serves the others.

import Dispatch
import LLFreeProtocol
import Synchronization

/// The last pool-derived stats, by generation, and the thread that scans for new ones.
/// Thread-safe.
public final class StatsCache: Sendable {
    /// What a scan of the pool found.
    struct Snapshot: Sendable {
        var generation: UInt64
        var freeFrames: UInt64
        var freeHugeFrames: UInt64
        var trees: TreeSummary
        var freeRuns: [UInt64]
    }

    /// Held only to read or replace the snapshot, never during a scan, so an event loop never
    /// waits on it for long.
    private let latest = Mutex<Snapshot?>(nil)
    /// Scans one at a time, in order, off the event loops.
    private let scanner = DispatchQueue(label: "llfreed.stats-scan")

    public init() {}

    /// The snapshot of `generation` if it is cached.
    func cached(generation: UInt64) -> Snapshot? {
        latest.withLock { latest in
            guard let cached = latest, cached.generation == generation else { return nil }
            return cached
        }
    }

    /// The snapshot of the current generation: the cached one, or `scan`'s run on this thread.
    func snapshot(generation: () -> UInt64, scan: (UInt64) -> Snapshot) -> (Snapshot, scanned: Bool) {
        let now = generation()
        if let cached = cached(generation: now) { return (cached, false) }
        let fresh = scan(now)
        latest.withLock { $0 = fresh }
        return (fresh, true)
    }

    /// Gets a snapshot on the scanning thread and passes it to `done` there. Requests queued
    /// while another scan ran are answered from its result if nothing changed since.
    /// - Parameters:
    ///   - generation: read on the scanning thread just before the scan, so that a change
    ///     during the scan makes the next request scan again.
    func snapshotInBackground(generation: @escaping @Sendable () -> UInt64, scan: @escaping @Sendable (UInt64) -> Snapshot,
                              done: @escaping @Sendable (Snapshot) -> Void) {
        scanner.async { [self] in
            done(snapshot(generation: generation, scan: scan).0)
        }
    }

    /// Waits until every scan asked for so far has finished, so the allocator can be closed.
    func finishScans() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            scanner.async { done.resume() }
        }
    }
}
