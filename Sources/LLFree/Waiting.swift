// The scheduling hook: what a thread does while it waits for another thread's short critical
// step (a put into a huge frame that another thread is splitting). Not part of the persistence
// seam: where memory lives has nothing to do with how threads are scheduled. A parameter of the
// operations that can wait, generic and specialised away like the persistence.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Called in a loop while a thread waits for another thread to finish a short critical step.
/// A simulator with its own scheduler switches to another simulated thread here.
public protocol Waiting {
    /// Lets another thread run before the waiting thread looks again.
    func spin()
}

/// Waiting by giving up the CPU (`sched_yield`): the default everywhere but in the simulator.
@frozen
public struct Yielding: Waiting, Sendable {
    @inlinable public init() {}
    @inlinable @inline(__always) public func spin() { _yieldThread() }
}

@usableFromInline func _yieldThread() { sched_yield() }
