// The owner vocabulary of protocol version 2: an owner's kind, what the daemon reports about an
// owner, the runs an owner lists, and its 64-byte root value.

/// How long an owner's frames live (the kind byte of attach).
public enum WireOwnerKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Frames survive connection close, client crash, daemon crash and reboot.
    case persistent = 0
    /// Frames are freed when the owner's last connection closes, and when the daemon starts.
    case ephemeral = 1

    public var description: String { self == .persistent ? "persistent" : "ephemeral" }
}

/// An owner as the daemon reports it (attach, owner info, owners, set quota).
public struct OwnerInfo: Sendable, Equatable, CustomStringConvertible {
    /// Owner number in the pool (1...4095).
    public var id: UInt16
    public var kind: WireOwnerKind
    /// Whether the attach this answers created the owner.
    public var created: Bool
    /// 1...64 bytes of UTF-8.
    public var name: String
    /// Frames it holds.
    public var held: UInt64
    /// Most frames it may hold; nil: no limit.
    public var quota: UInt64?
    /// Connections attached to it now.
    public var connections: UInt32
    /// The uid that may act for it.
    public var uid: UInt32
    /// A gid whose members may act for it; nil: none.
    public var gid: UInt32?

    public init(id: UInt16, kind: WireOwnerKind, created: Bool = false, name: String, held: UInt64, quota: UInt64?,
                connections: UInt32, uid: UInt32, gid: UInt32?) {
        self.id = id
        self.kind = kind
        self.created = created
        self.name = name
        self.held = held
        self.quota = quota
        self.connections = connections
        self.uid = uid
        self.gid = gid
    }

    public var description: String {
        "\(name): \(kind), \(held) frames held, quota \(quota.map(String.init) ?? "none"), \(connections) connections, uid \(uid)\(gid.map { ", gid \($0)" } ?? "")"
    }
}

/// A run an owner holds: its first frame and its order, as it was got (put it back so).
public struct WireRun: Sendable, Equatable, CustomStringConvertible {
    public var frame: UInt64
    public var order: UInt8
    public init(frame: UInt64, order: UInt8) { self.frame = frame; self.order = order }
    public var description: String { "\(frame)/\(order)" }
}

/// One page of an owner's runs.
public struct ListResult: Sendable, Equatable {
    /// Runs in frame order.
    public var runs: [WireRun]
    /// Where the next page starts (the `from` of the next list); nil: this was the last page.
    public var next: UInt64?
    public init(runs: [WireRun], next: UInt64?) { self.runs = runs; self.next = next }
}

/// What a release freed.
public struct ReleaseResult: Sendable, Equatable {
    public var runs: UInt64
    public var frames: UInt64
    public init(runs: UInt64, frames: UInt64) { self.runs = runs; self.frames = frames }
}

/// An owner's root value: 64 bytes the client chooses (typically the frame of its own index).
public struct RootValue: Sendable, Equatable, CustomStringConvertible {
    /// Bytes of a root value.
    public static let size = 64
    /// Exactly ``size`` bytes.
    public let bytes: [UInt8]

    /// The root value of `bytes`, padded with zeros to 64; nil if longer than 64.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count <= RootValue.size else { return nil }
        self.bytes = bytes + [UInt8](repeating: 0, count: RootValue.size - bytes.count)
    }

    /// All zero: the root of a new owner.
    public static let zero = RootValue([])!

    /// The first 8 bytes as a little-endian integer (where a client keeps a frame number).
    public var firstWord: UInt64 { bytes[0..<8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    /// A root holding `word` little-endian in its first 8 bytes, zeros after.
    public init(word: UInt64) {
        self.bytes = (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } + [UInt8](repeating: 0, count: RootValue.size - 8)
    }

    public var description: String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}

/// The outcome of a root compare-and-set.
public struct RootSwap: Sendable, Equatable {
    /// Whether the root equalled the expected value and was replaced.
    public var swapped: Bool
    /// The root now (the new value if swapped).
    public var current: RootValue
    public init(swapped: Bool, current: RootValue) { self.swapped = swapped; self.current = current }
}

/// One page of the pool's owners.
public struct OwnerList: Sendable, Equatable {
    public var owners: [OwnerInfo]
    /// The owner number the next page starts at; nil: this was the last page.
    public var next: UInt16?
    public init(owners: [OwnerInfo], next: UInt16?) { self.owners = owners; self.next = next }
}
