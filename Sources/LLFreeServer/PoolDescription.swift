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
    /// The descriptors a frames request passes on; nil: the daemon passes none (frames is
    /// refused, and clients open `path` themselves).
    public var frames: FramesDescriptors?
    /// Whether a client that maps the frames can reach the allocator's metadata too (a
    /// single-file pool).
    public var metadataReachable: Bool

    public init(path: String, uuid: [UInt8], framesOffset: UInt64, durability: WireDurability, frames: FramesDescriptors? = nil,
                metadataReachable: Bool = true) {
        self.path = path
        self.uuid = uuid
        self.framesOffset = framesOffset
        self.durability = durability
        self.frames = frames
        self.metadataReachable = metadataReachable
    }
}

/// Open descriptors of the object holding the frames, owned by whoever opened the pool: the
/// server passes them on (SCM_RIGHTS duplicates them) and never closes them.
public struct FramesDescriptors: Sendable, Equatable {
    /// Opened read-write.
    public var readWrite: Int32
    /// Opened read-only.
    public var readOnly: Int32
    /// Whether the object holds only frames (a split pool's frames object), not the pool file.
    public var split: Bool

    public init(readWrite: Int32, readOnly: Int32, split: Bool) {
        self.readWrite = readWrite
        self.readOnly = readOnly
        self.split = split
    }
}
