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
/// - ``zero(frame:count:)`` for the content of frames a get hands to a new holder that are not
///   known to be zero (with owners), followed by a ``fence()`` before the frames are tagged: a
///   tag that a crash keeps never names a frame with another holder's bytes in it.
public protocol Persistence {
    /// A store to the line containing `address` was made.
    func stored(_ address: UnsafeMutableRawPointer, truth: Bool)
    /// Write back the line containing `address`; durable after the next ``fence()``.
    func flush(_ address: UnsafeMutableRawPointer)
    /// Everything this thread flushed so far is durable when this returns.
    func fence()
    /// Writes zeros over the content of the `count` base frames from `frame` (their bytes, not
    /// their metadata) and writes them back; durable after the next ``fence()``. Returns false,
    /// having done nothing, when this persistence reaches no frames (metadata only: benchmarks,
    /// tests); then no fence is owed for it.
    func zero(frame: UInt64, count: Int) -> Bool
}

/// The persistence of volatile memory: nothing to flush.
public struct VolatilePersistence: Persistence, Sendable {
    @inlinable public init() {}
    @inlinable @inline(__always) public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {}
    @inlinable @inline(__always) public func flush(_ address: UnsafeMutableRawPointer) {}
    @inlinable @inline(__always) public func fence() {}
    /// No frames: a volatile allocator's caller owns their content.
    @inlinable @inline(__always) public func zero(frame: UInt64, count: Int) -> Bool { false }
}
