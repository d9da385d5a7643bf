// The body of a hello reply: what a client needs to know about the pool it is served from,
// including where the frames lie in the pool file so it can map them.

/// The pool's geometry and identity, and the negotiated protocol version.
public struct PoolInfo: Sendable, Equatable {
    /// The protocol version both sides will speak.
    public var version: UInt16
    /// How the daemon makes state durable before replying.
    public var durability: WireDurability
    /// Largest order a get or put accepts in this pool.
    public var maxOrder: UInt8
    /// Bytes per frame (4096).
    public var frameSize: UInt32
    /// Frames in the pool.
    public var frames: UInt64
    /// Byte offset of frame 0 in the pool file; frame `f` lies at `framesOffset + f * frameSize`.
    public var framesOffset: UInt64
    /// 2 MiB children in the pool.
    public var children: UInt32
    /// Children per tree.
    public var treeChildren: UInt32
    /// Trees in the pool.
    public var trees: UInt32
    /// Most frames a get or put may name.
    public var maxBatch: UInt32
    /// Allocator cores the daemon serves with (one per event loop).
    public var cores: UInt16
    /// The pool's UUID (16 bytes, as stored in the pool header).
    public var uuid: [UInt8]
    /// The absolute, resolved path (UTF-8, at most ``Wire/maxPath`` bytes) of the object that
    /// holds the frames: the pool file, or a split pool's frames object.
    public var path: String
    /// Whether a client that maps the frames can also reach the allocator's metadata (a
    /// single-file pool). Sent from version 3 on; a version-1 or -2 reply reads as true.
    public var metadataReachable: Bool

    public init(version: UInt16, durability: WireDurability, maxOrder: UInt8, frameSize: UInt32, frames: UInt64,
                framesOffset: UInt64, children: UInt32, treeChildren: UInt32, trees: UInt32, maxBatch: UInt32,
                cores: UInt16, uuid: [UInt8], path: String, metadataReachable: Bool = true) {
        self.metadataReachable = metadataReachable
        self.version = version
        self.durability = durability
        self.maxOrder = maxOrder
        self.frameSize = frameSize
        self.frames = frames
        self.framesOffset = framesOffset
        self.children = children
        self.treeChildren = treeChildren
        self.trees = trees
        self.maxBatch = maxBatch
        self.cores = cores
        self.uuid = uuid
        self.path = path
    }

    /// The UUID in its usual 8-4-4-4-12 hexadecimal text form.
    public var uuidString: String {
        let hex = uuid.map { byte -> String in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }
        guard hex.count == 16 else { return hex.joined() }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }
}
