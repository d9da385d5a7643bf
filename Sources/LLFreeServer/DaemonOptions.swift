// What llfreed was asked to do: which pool, whether to create it, where and how to serve.

import LLFreePool

/// The daemon's settings, as parsed from its command line.
public struct DaemonOptions: Sendable {
    /// The pool file.
    public var poolPath: String
    /// Create the pool if it is missing (an existing pool is opened, never reformatted).
    public var create: Bool
    /// Bytes of frames for a pool created by ``create``.
    public var size: UInt64?
    /// Children per tree for a pool created by ``create``.
    public var treeChildren: Int
    /// The durability asked for.
    public var durability: DurabilityRequest
    /// Where and how to serve.
    public var server: ServerConfiguration

    public init(poolPath: String, create: Bool = false, size: UInt64? = nil, treeChildren: Int = 32,
                durability: DurabilityRequest = .automatic, server: ServerConfiguration) {
        self.poolPath = poolPath
        self.create = create
        self.size = size
        self.treeChildren = treeChildren
        self.durability = durability
        self.server = server
    }
}
