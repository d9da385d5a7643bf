// What the server tells clients about the pool besides its geometry: where it is, which pool
// it is, where the frames lie in the file and how durable replies are.

import LLFreeProtocol

/// The identity and placement of the pool being served (reported by hello).
public struct PoolDescription: Sendable, Equatable {
    /// The pool file's path, absolute and resolved (realpath), so that a client in any working
    /// directory opens the same file (at most ``Wire/maxPath`` bytes of UTF-8).
    public var path: String
    /// The pool's UUID, 16 bytes.
    public var uuid: [UInt8]
    /// Byte offset of frame 0 in the pool file.
    public var framesOffset: UInt64
    /// How state is made durable before a reply.
    public var durability: WireDurability

    public init(path: String, uuid: [UInt8], framesOffset: UInt64, durability: WireDurability) {
        self.path = path
        self.uuid = uuid
        self.framesOffset = framesOffset
        self.durability = durability
    }
}
