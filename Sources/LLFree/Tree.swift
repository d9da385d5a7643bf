// A tree entry of the upper level (volatile, rebuilt at start): the free frames of a group of
// children, whether a core has reserved the tree, and its kind.

/// A tree entry (32 bits).
///
/// | bits | field |
/// | --- | --- |
/// | 0...23 | free frames not held by a reservation (0 while reserved, except for frames other cores freed into it since) |
/// | 24 | reserved by some core |
/// | 25...26 | kind (``Kind``) of the last reservation |
@frozen
public struct Tree: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt32

    @inlinable @inline(__always) public init(raw: UInt32) { self.raw = raw }

    @inlinable @inline(__always)
    public init(free: Int, reserved: Bool, kind: Kind) {
        assert(free >= 0 && free <= Int(Tree.freeMask))
        raw = UInt32(free) | (reserved ? Tree.reservedBit : 0) | UInt32(kind.rawValue) << Tree.kindShift
    }

    @usableFromInline static let freeMask: UInt32 = 0xFF_FFFF
    @usableFromInline static let reservedBit: UInt32 = 1 << 24
    @usableFromInline static let kindShift: UInt32 = 25

    @inlinable public var free: Int { Int(raw & Tree.freeMask) }
    @inlinable public var reserved: Bool { raw & Tree.reservedBit != 0 }
    @inlinable public var kind: Kind { Kind(rawValue: UInt8((raw >> Tree.kindShift) & 3)) ?? .fixed }

    @inlinable @inline(__always)
    func with(free: Int) -> Tree { Tree(free: free, reserved: reserved, kind: kind) }

    public var description: String { "Tree(free \(free), \(reserved ? "reserved" : "unreserved"), \(kind))" }
}
