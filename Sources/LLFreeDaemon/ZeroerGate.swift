// The idle zeroer holds the free huge frame it works on as the allocator's own owner, so for the
// length of one step that frame is neither counted free nor to be had by a get. Whatever must
// see every free frame waits the step out through this gate: the stats and metrics counts (a
// client that freed everything reads every frame free) and a get that ran out of memory, which
// tries once more for the rest after the step (the last free huge frame is never refused because
// the zeroer was zeroing it). Gets that find their frames never touch it.

import Synchronization

/// Serialises the idle zeroer's steps against what must see every free frame.
public final class ZeroerGate: Sendable {
    private let mutex = Mutex<Void>(())

    public init() {}

    /// Runs one step of the idle zeroer (its take, zeroing and free) inside the gate.
    func step<R>(_ body: () -> R) -> R {
        mutex.withLock { _ in body() }
    }

    /// Runs `body` while no step is in progress, waiting for one in progress to end.
    @inline(never)
    public func quiet<R>(_ body: () -> R) -> R {
        mutex.withLock { _ in body() }
    }
}
