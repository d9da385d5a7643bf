// Owner tags: who holds each run, durable beside the bitfields. A frame tag (16 bits per base
// frame) names the run's owner and its shape (the head carries the order, the other frames say
// "interior"); a huge tag (16 bits per child) names the owner of the huge run starting at that
// child and its span. Recovery trusts a run only if its bits and all of its tags agree, which is
// what makes an untagged (never acknowledged) allocation tell itself apart from a tagged one.

import Atomics

/// An owner's number in the pool: 1...``maxOwner``. 0 means "no owner" in a tag, and "any
/// owner" (an administrator's right) where a put or a release names the owner to check.
public typealias OwnerID = UInt16

/// Limits of owner numbers.
public enum Owners {
    /// The largest owner number a tag can hold (12 bits).
    public static let maxOwner: OwnerID = 0xFFF
    /// Owner number that, given to a put, skips the owner check (an administrator's put).
    public static let any: OwnerID = 0
    /// The allocator's own owner number: the idle zeroer holds the huge frames it zeroes under
    /// it. No owner table entry has it, so settling frees what a crash left it holding.
    public static let zeroer: OwnerID = maxOwner
    /// Most entries an owner table can have (owner numbers 1...this; ``zeroer`` is beyond).
    public static let maxTableOwners = Int(maxOwner) - 1
}

/// The tag of one base frame (16 bits, little-endian).
///
/// | bits | field |
/// | --- | --- |
/// | 0...11 | owner (0: no owner; then the whole tag is 0, or ``zeroed``) |
/// | 12...15 | shape: 0...8 = first frame of a run of that order; 15 = a later frame of a run (or, with owner 0, a free frame known to be zero) |
@frozen
public struct FrameTag: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt16

    @inlinable @inline(__always) public init(raw: UInt16) { self.raw = raw }

    /// The tag of the first frame of a run of `order` held by `owner`.
    @inlinable @inline(__always)
    public init(head owner: OwnerID, order: Int) {
        assert(owner != 0 && owner <= Owners.maxOwner && order >= 0 && order < 9)
        raw = owner | UInt16(order) << 12
    }

    /// The tag of a frame after the first of a run held by `owner`.
    @inlinable @inline(__always)
    public init(interior owner: OwnerID) {
        assert(owner != 0 && owner <= Owners.maxOwner)
        raw = owner | FrameTag.interiorShape << 12
    }

    @usableFromInline static let interiorShape: UInt16 = 15
    public static let none = FrameTag(raw: 0)
    /// The tag of a free frame whose content is durably zero ("known zero"): owner 0, shape 15.
    /// Written only over frames whose zeros were fenced before (the idle zeroer, a format over
    /// a new file); a get that takes the frame replaces it and owes no zeroing.
    public static let zeroed = FrameTag(raw: 0xF000)

    @inlinable public var owner: OwnerID { raw & Owners.maxOwner }
    @inlinable public var shape: Int { Int(raw >> 12) }
    /// Whether this is the first frame of a run (then ``order`` is its order).
    @inlinable public var isHead: Bool { raw != 0 && shape < 9 }
    @inlinable public var order: Int { shape }

    public var description: String {
        raw == 0 ? "untagged" : self == .zeroed ? "free, known zero" : isHead ? "owner \(owner), run of order \(order)" : shape == 15 ? "owner \(owner), inside a run" : "bad tag 0x\(String(raw, radix: 16))"
    }
}

/// The tag of one child for huge runs (16 bits, little-endian). Meaningful only on the first
/// child of a huge run; 0 everywhere else.
///
/// | bits | field |
/// | --- | --- |
/// | 0...11 | owner (0: no owner) |
/// | 12...15 | span: log2 of the children of the run (0 = order 9), or 15 while an order-9 frame is split by a put of part of it |
@frozen
public struct HugeTag: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt16

    @inlinable @inline(__always) public init(raw: UInt16) { self.raw = raw }

    @inlinable @inline(__always)
    public init(owner: OwnerID, span: Int) {
        assert(owner != 0 && owner <= Owners.maxOwner && span >= 0 && span <= 15)
        raw = owner | UInt16(span) << 12
    }

    /// Span value of an order-9 frame being split.
    @usableFromInline static let splittingSpan = 15
    public static let none = HugeTag(raw: 0)

    @inlinable public var owner: OwnerID { raw & Owners.maxOwner }
    @inlinable public var span: Int { Int(raw >> 12) }
    /// Whether this tags a huge run of `span` children (a split in progress counts as span 0).
    @inlinable @inline(__always)
    func tags(span s: Int) -> Bool { raw != 0 && (span == s || (s == 0 && span == HugeTag.splittingSpan)) }

    public var description: String {
        raw == 0 ? "untagged" : span == HugeTag.splittingSpan ? "owner \(owner), being split" : "owner \(owner), span \(span)"
    }
}

/// A run an owner holds: its first frame and order, as it was taken.
public struct OwnedRun: Equatable, Sendable, CustomStringConvertible {
    public var frame: UInt64
    public var order: Int
    public init(frame: UInt64, order: Int) { self.frame = frame; self.order = order }
    public var description: String { "\(frame)/\(order)" }
}
