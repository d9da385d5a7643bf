// Where each area of a pool lies: header block, LLFree metadata (exactly the core's Geometry
// layout), frames area aligned to 2 MiB. Computed from the frame count and tree size alone, so
// open can recompute it and refuse a header whose recorded offsets disagree.

import LLFree

/// Offsets and lengths of a pool's areas, in bytes from the start of the file.
public struct PoolLayout: Sendable, Equatable {
    /// Bytes of the header block.
    public static let headerLength = 4096
    /// Alignment of the frames area in the file, so frames can be mapped with 2 MiB pages.
    public static let framesAlignment = 2 << 20

    /// The allocator's geometry.
    public let geometry: Geometry
    /// Start of the LLFree metadata (bitfields first), right after the header block.
    public let metadataOffset: Int
    /// Bytes of LLFree metadata (``Geometry/metadataSize``).
    public let metadataLength: Int
    /// Start of the bitfields (equal to ``metadataOffset``).
    public let bitfieldsOffset: Int
    /// Bytes of bitfields: 64 per child.
    public let bitfieldsLength: Int
    /// Start of the 16-bit child entries.
    public let childrenOffset: Int
    /// Bytes of child entries, padded to a 64-byte line.
    public let childrenLength: Int
    /// Start of the frames area: frame `n` is at `framesOffset + n * 4096`.
    public let framesOffset: UInt64
    /// Bytes of the frames area.
    public let framesLength: UInt64
    /// Bytes of the whole pool file.
    public let fileSize: UInt64

    /// Bytes of the part the allocator reads and writes: header block and metadata. An image
    /// handed to ``PoolImage`` needs at least this much; the frames area is never touched.
    public var imageLength: Int { metadataOffset + metadataLength }

    /// The layout for `frames` frames in trees of `treeChildren` children.
    /// - Throws: ``PoolError/Reason/invalidArgument(_:)`` (naming `file`) for a frame count or tree
    ///   size the allocator does not support.
    public init(frames: UInt64, treeChildren: Int, file: String) throws(PoolError) {
        do {
            geometry = try Geometry(frames: frames, treeChildren: treeChildren)
        } catch {
            throw PoolError(file: file, reason: .invalidArgument(error.description))
        }
        metadataOffset = PoolLayout.headerLength
        metadataLength = geometry.metadataSize
        bitfieldsOffset = metadataOffset
        bitfieldsLength = geometry.childrenOffset
        childrenOffset = metadataOffset + geometry.childrenOffset
        childrenLength = geometry.metadataSize - geometry.childrenOffset
        let align = UInt64(PoolLayout.framesAlignment)
        framesOffset = (UInt64(metadataOffset + metadataLength) + align - 1) & ~(align - 1)
        framesLength = frames * UInt64(Geometry.frameSize)
        fileSize = framesOffset + framesLength
    }
}
