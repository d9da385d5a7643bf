// A tree entry of the upper level (volatile, rebuilt at start): the free frames of a group of
// children, whether a core has reserved the tree, and its kind; and the transitions the upper
// level applies to it with ``update(_:_:)``.

import Atomics

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

extension Tree: AtomicWord {}

// MARK: Transitions

extension Tree {
    /// Takes `n` frames of the global counter, if it has them (a get outside any reservation, or
    /// the budget of a get at a frame).
    @inlinable @inline(__always)
    func take(_ n: Int) -> Tree? { free >= n ? with(free: free &- n) : nil }

    /// Takes every frame other cores freed into the tree since it was reserved; the reservation
    /// that holds the tree gets them (re-sync).
    @inlinable @inline(__always)
    func sync() -> Tree? { free > 0 ? with(free: 0) : nil }

    /// Reserves the tree for `kind`, taking all its frames, if it is unreserved, has at least `n`
    /// and `accept` (given the entry and the tree's capacity) likes it.
    @inlinable @inline(__always)
    func reserve(kind: Kind, _ n: Int, capacity: Int, accept: (Tree, Int) -> Bool) -> Tree? {
        !reserved && free >= n && accept(self, capacity) ? Tree(free: 0, reserved: true, kind: kind) : nil
    }

    /// Ends the reservation, giving back the `free` frames it held.
    @inlinable @inline(__always)
    func unreserve(adding free: Int) -> Tree {
        assert(reserved, "unreserving a tree that is not reserved")
        return Tree(free: self.free + free, reserved: false, kind: kind)
    }

    /// Gives `n` frames back to the global counter of the tree at `atomic`. One atomic add, no
    /// transition: the counter is the low field and never exceeds the tree's frames, so the add
    /// cannot carry into the flags.
    @inlinable @inline(__always)
    static func giveBack(_ atomic: UnsafeAtomic<UInt32>, _ n: Int) {
        atomic.wrappingIncrement(by: UInt32(n), ordering: .acquiringAndReleasing)
    }
}
