// The part of an exploration a crash point belongs to.

/// What the explorer was doing when it took a crash image.
public enum ExplorerPhase: String, Sendable, Equatable, CustomStringConvertible {
    /// Formatting a fresh region, or formatting over a used pool.
    case format
    /// Running the workload (including closes and reopens it asks for).
    case workload

    public var description: String { rawValue }
}
