// Memory shared by the threads of one benchmark run, allocated and touched before any timing:
// the frame buffers the loops write, the per-thread times and the persistence snapshots.

/// Buffers of one run; each thread writes only its own slots.
final class RunState: @unchecked Sendable {
    let threads: Int
    let allocs: Int
    /// threads * allocs frame numbers; thread t owns [t * allocs, (t + 1) * allocs).
    let frames: UnsafeMutablePointer<UInt64>
    /// Nanoseconds of each thread's first and second timed phase.
    let first: UnsafeMutablePointer<UInt64>
    let second: UnsafeMutablePointer<UInt64>
    /// Persistence counts at the phase boundaries (taken by thread 0 between barriers).
    let snapshots: UnsafeMutablePointer<PersistenceCounts?>
    let barrier: Barrier

    init(threads: Int, allocs: Int) {
        self.threads = threads
        self.allocs = allocs
        frames = .allocate(capacity: max(threads * allocs, 1))
        frames.initialize(repeating: 0, count: max(threads * allocs, 1))
        first = .allocate(capacity: threads)
        first.initialize(repeating: 0, count: threads)
        second = .allocate(capacity: threads)
        second.initialize(repeating: 0, count: threads)
        snapshots = .allocate(capacity: 4)
        snapshots.initialize(repeating: nil, count: 4)
        barrier = Barrier(parties: threads)
    }

    deinit {
        frames.deallocate()
        first.deallocate()
        second.deallocate()
        snapshots.deinitialize(count: 4)
        snapshots.deallocate()
    }

    /// The frame buffer of thread `t`.
    @inline(__always)
    func frames(of t: Int) -> UnsafeMutablePointer<UInt64> { frames + t * allocs }

    /// Mean over threads of `times[t] / operations`, in nanoseconds.
    func mean(_ times: UnsafeMutablePointer<UInt64>) -> Double {
        var sum = 0.0
        for t in 0..<threads { sum += Double(times[t]) / Double(max(allocs, 1)) }
        return sum / Double(threads)
    }
}
