// Tree kinds of the upper level (the paper's fixed / movable / huge): trees are kept apart by
// kind so that short-lived base frames do not fragment the trees that serve huge frames.

/// What kind of memory a get asks for; each core holds one tree reservation per kind.
public enum Kind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Base frames that stay allocated for long (the default).
    case fixed = 0
    /// Base frames that could be moved or reclaimed.
    case movable = 1
    /// Huge (order >= 9) frames. Gets of order >= 9 always use this kind.
    case huge = 2

    /// Number of kinds.
    public static let count = 3

    /// The kind a get of `order` is served from: huge orders always use `.huge`.
    @inlinable @inline(__always)
    public func effective(order: Int) -> Kind {
        order >= Geometry.hugeOrder ? .huge : self
    }

    public var description: String {
        switch self {
        case .fixed: return "fixed"
        case .movable: return "movable"
        case .huge: return "huge"
        }
    }
}
