// The persistence seam: the only place that knows whether the lower level lives in volatile
// memory, on a libpmem mapping or in the crash simulator. It is a generic parameter of the
// allocator, so the volatile case is specialised away entirely.

/// Receives every store the allocator makes to lower-level metadata, the flushes of lines whose
/// content recovery reads, and the one fence per operation.
///
/// Protocol of calls, per thread:
/// - ``stored(_:truth:)`` after each store or successful compare-and-swap to metadata, naming
///   an address inside the changed 64-byte line. `truth` is true when the store changed state
///   that recovery reads as ground truth (bitfield rows, huge flags); false when it changed
///   only a counter that recovery recomputes.
/// - ``flush(_:)`` once for each truth line after the last store to it in an operation.
/// - ``fence()`` once before a mutating operation (or a batch) returns, and between steps
///   whose order must survive a crash (splitting a huge frame).
public protocol Persistence {
    /// A store to the line containing `address` was made.
    func stored(_ address: UnsafeMutableRawPointer, truth: Bool)
    /// Write back the line containing `address`; durable after the next ``fence()``.
    func flush(_ address: UnsafeMutableRawPointer)
    /// Everything this thread flushed so far is durable when this returns.
    func fence()
}

/// The persistence of volatile memory: nothing to flush.
public struct VolatilePersistence: Persistence, Sendable {
    @inlinable public init() {}
    @inlinable @inline(__always) public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}
    @inlinable @inline(__always) public func flush(_ address: UnsafeMutableRawPointer) {}
    @inlinable @inline(__always) public func fence() {}
}
