// Fixed-size buffers of gid_t for getsockopt(SO_PEERGROUPS) through NIO, whose generic option
// reader sizes the buffer by the type: a pair of halves, nested, gives 2^n gids without writing
// out a tuple of thousands of elements.

/// Two `Half`s back to back: `GidBuffer<GidBuffer<UInt32>>` holds 4 gids, and so on.
struct GidBuffer<Half: Sendable>: Sendable {
    var low: Half
    var high: Half

    /// The buffer's bytes read as gids, in order.
    var gids: [UInt32] {
        withUnsafeBytes(of: self) { Array($0.assumingMemoryBound(to: UInt32.self)) }
    }
}

typealias Gids2 = GidBuffer<UInt32>
typealias Gids4 = GidBuffer<Gids2>
typealias Gids8 = GidBuffer<Gids4>
typealias Gids16 = GidBuffer<Gids8>
typealias Gids32 = GidBuffer<Gids16>
typealias Gids64 = GidBuffer<Gids32>
typealias Gids128 = GidBuffer<Gids64>
typealias Gids256 = GidBuffer<Gids128>
typealias Gids512 = GidBuffer<Gids256>
typealias Gids1024 = GidBuffer<Gids512>
typealias Gids2048 = GidBuffer<Gids1024>
typealias Gids4096 = GidBuffer<Gids2048>
