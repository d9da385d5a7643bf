// The header's state word: clean or dirty plus a generation, one aligned 8-byte word on a cache
// line of its own, so changing it is a single power-fail-atomic store.

/// The pool's state word.
///
/// Bits 0...7 hold the state code (`0xC1` clean, `0xD1` dirty; anything else is damage), bits
/// 8...63 the generation, which every open increments.
public struct PoolState: Equatable, Sendable, CustomStringConvertible {
    static let cleanCode: UInt64 = 0xC1
    static let dirtyCode: UInt64 = 0xD1

    /// Whether the metadata on media is exactly consistent (closed cleanly): open need not scan.
    public let clean: Bool
    /// Number of opens since format.
    public let generation: UInt64

    public init(clean: Bool, generation: UInt64) {
        self.clean = clean
        self.generation = generation & (UInt64.max >> 8)
    }

    /// The word as stored.
    public var raw: UInt64 { generation << 8 | (clean ? PoolState.cleanCode : PoolState.dirtyCode) }

    /// Decodes a stored word; nil if its state code is neither clean nor dirty.
    public init?(raw: UInt64) {
        switch raw & 0xFF {
        case PoolState.cleanCode: self.init(clean: true, generation: raw >> 8)
        case PoolState.dirtyCode: self.init(clean: false, generation: raw >> 8)
        default: return nil
        }
    }

    public var description: String { "\(clean ? "clean" : "dirty") (generation \(generation))" }
}
