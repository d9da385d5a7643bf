// The kind byte of a get: which kind of tree the frames come from (the paper's fixed /
// movable / huge), without making the protocol depend on the allocator module.

/// What kind of memory a get asks for. Orders >= 9 are always served from huge trees.
public enum FrameKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case fixed = 0
    case movable = 1
    case huge = 2

    public var description: String {
        switch self {
        case .fixed: return "fixed"
        case .movable: return "movable"
        case .huge: return "huge"
        }
    }
}
