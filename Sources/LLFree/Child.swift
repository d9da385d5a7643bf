// A child entry of the lower level: one 16-bit word per 2 MiB region, holding its free-frame
// counter and the huge flag. The huge flag is ground truth for order >= 9 allocations; the
// counter is recomputed by recovery from the bitfield.

import Atomics

/// A child entry, as stored in the metadata region (16 bits, little-endian).
///
/// | bits | field |
/// | --- | --- |
/// | 0...9 | free frames (0...512), or 1023 while a huge frame is being split |
/// | 10 | huge: the whole child is allocated as (part of) a huge frame; its bitfield is unused |
/// | 11...15 | span: for a huge child, log2 of the children its allocation covers (0 = order 9); for a child that is not huge, 31 while a split waits for its cleared huge flag to be durable, else 0 |
@frozen
public struct Child: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt16

    @inlinable @inline(__always) public init(raw: UInt16) { self.raw = raw }

    @inlinable @inline(__always)
    public init(free: Int, huge: Bool = false, span: Int = 0) {
        assert(free >= 0 && free <= Int(Child.freeMask))
        assert(span >= 0 && span < 32)
        raw = UInt16(free) | (huge ? Child.hugeBit : 0) | UInt16(span) << Child.spanShift
    }

    @usableFromInline static let freeMask: UInt16 = 0x3FF
    @usableFromInline static let hugeBit: UInt16 = 1 << 10
    @usableFromInline static let spanShift: UInt16 = 11
    @usableFromInline static let spanMask: UInt16 = 0x1F << 11
    /// Span of a child whose huge flag was cleared by a split that has not been fenced yet: no
    /// other thread may use the child until it is, or its acknowledged frames could depend on a
    /// flag that a crash brings back.
    @usableFromInline static let lockedSpan = 31
    /// Free-counter value that marks a huge child whose split is in progress (volatile meaning
    /// only: recovery treats any huge child the same).
    @usableFromInline static let splitting = Int(freeMask)

    /// Free frames according to the counter.
    @inlinable public var free: Int { Int(raw & Child.freeMask) }
    /// Whether the child is allocated as (part of) a huge frame.
    @inlinable public var huge: Bool { raw & Child.hugeBit != 0 }
    /// log2 of the children of the huge allocation this child belongs to.
    @inlinable public var span: Int { Int(raw >> Child.spanShift) }
    /// A huge child whose first base-frame put is splitting it right now.
    @inlinable public var isSplitting: Bool { huge && free == Child.splitting }
    /// A child whose split has cleared the huge flag, not yet durably.
    @inlinable public var isLocked: Bool { !huge && span != 0 }
    /// Whether base frames can be taken from or given to this child right now.
    @inlinable @inline(__always) var isBase: Bool { raw & (Child.hugeBit | Child.spanMask) == 0 }

    public var description: String {
        huge ? "Child(huge, span \(span)\(isSplitting ? ", splitting" : ""))" : "Child(free \(free)\(isLocked ? ", split not yet durable" : ""))"
    }
}

extension Child: AtomicWord {}

// MARK: Transitions

extension Child {
    /// Takes `n` frames of the counter if the child serves base frames and has them (a get
    /// decrements before it sets bits).
    @inlinable @inline(__always)
    func take(_ n: Int) -> Child? { isBase && free >= n ? Child(raw: raw &- UInt16(n)) : nil }

    /// Claims a huge child for splitting (the first step of a split), if it is a whole order-9
    /// frame that nobody splits yet.
    @inlinable @inline(__always)
    func claimForSplit() -> Child? { huge && span == 0 && !isSplitting ? Child(free: Child.splitting, huge: true) : nil }
}
