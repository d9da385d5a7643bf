// A core's reservation of one tree for one kind (the paper's "local"): the tree index and the
// free frames the core took out of the tree's global counter. One atomic word, so that other
// cores can steal from it or drain it without locks; and the transitions applied to it with
// ``update(_:_:)``.

import Atomics

/// A reservation word (64 bits).
///
/// | bits | field |
/// | --- | --- |
/// | 0...23 | free frames held locally |
/// | 24...55 | tree index |
/// | 63 | present |
@frozen
public struct Reservation: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt64

    @inlinable @inline(__always) public init(raw: UInt64) { self.raw = raw }

    @inlinable @inline(__always)
    public init(tree: Int, free: Int) {
        assert(free >= 0 && UInt64(free) <= Reservation.freeMask)
        raw = UInt64(free) | UInt64(tree) << 24 | Reservation.presentBit
    }

    /// No reservation.
    public static let none = Reservation(raw: 0)

    @usableFromInline static let freeMask: UInt64 = 0xFF_FFFF
    @usableFromInline static let presentBit: UInt64 = 1 << 63

    @inlinable public var present: Bool { raw & Reservation.presentBit != 0 }
    @inlinable public var free: Int { Int(raw & Reservation.freeMask) }
    @inlinable public var tree: Int { Int((raw >> 24) & 0xFFFF_FFFF) }

    @inlinable @inline(__always)
    func with(free: Int) -> Reservation { Reservation(tree: tree, free: free) }

    public var description: String { present ? "Reservation(tree \(tree), free \(free))" : "Reservation(none)" }
}

extension Reservation: AtomicWord {}

// MARK: Transitions

extension Reservation {
    /// Takes `n` frames of the local counter, if there is a reservation holding them (a get on
    /// the fast path, or another core stealing).
    @inlinable @inline(__always)
    func take(_ n: Int) -> Reservation? { present && free >= n ? with(free: free &- n) : nil }

    /// Takes `n` frames of the local counter if the reservation holds tree `t` and has them.
    @inlinable @inline(__always)
    func take(_ n: Int, tree t: Int) -> Reservation? { tree == t ? take(n) : nil }

    /// Gives `n` frames of tree `t` back to the local counter, if the reservation still holds
    /// `t` (else they belong to the tree's global counter).
    @inlinable @inline(__always)
    func giveBack(_ n: Int, tree t: Int) -> Reservation? { present && tree == t ? with(free: free &+ n) : nil }
}
