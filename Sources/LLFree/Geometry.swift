// The allocator's geometry: how many frames, children and trees it manages, and where the
// lower-level metadata lies inside the region the caller supplies (the on-media layout).

/// Sizes and counts that never change after an allocator is created.
///
/// Metadata layout inside the caller's region (all offsets relative to its start, which must be
/// 64-byte aligned):
///
/// | offset | size | content |
/// | --- | --- | --- |
/// | 0 | `children * 64` | one bitfield per child: 8 little-endian `UInt64` rows, bit `i` of row `r` is frame `r * 64 + i` of the child; 1 = allocated |
/// | `childrenOffset` | `children * 2`, padded to 64 | one 16-bit child entry per child (see ``Child``) |
/// | `tagsOffset` | `children * 1024` | with owners only: one 16-bit ``FrameTag`` per base frame, 512 per child |
/// | `hugeTagsOffset` | `children * 2`, padded to 64 | with owners only: one 16-bit ``HugeTag`` per child |
///
/// Bits of the last bitfield beyond `frames` are set (permanently allocated), so a partial
/// last child never hands out frames that do not exist.
public struct Geometry: Sendable, Equatable, CustomStringConvertible {
    /// Bytes in a base frame (order 0).
    public static let frameSize = 4096
    /// log2 of the frames in one child (order of a huge frame).
    public static let hugeOrder = 9
    /// Frames per child (2 MiB).
    public static let childFrames = 1 << hugeOrder
    /// Bits per bitfield row.
    public static let rowBits = 64
    /// Rows per bitfield (one 64-byte cache line).
    public static let rows = childFrames / rowBits
    /// Bytes of a cache line, the unit of flushing.
    public static let lineSize = 64
    /// Default children per tree (32 children = 64 MiB, as in the paper).
    public static let defaultTreeChildren = 32
    /// Largest supported children per tree (a tree counter holds 24 bits of frames).
    public static let maxTreeChildren = 1 << 14
    /// Largest number of frames (2^40 = 4 PiB; the issue asks for 2^32).
    public static let maxFrames: UInt64 = 1 << 40

    /// Frames managed.
    public let frames: UInt64
    /// Children (2 MiB regions); the last may be partial.
    public let children: Int
    /// Children per tree, a power of two.
    public let treeChildren: Int
    /// Trees; the last may be partial.
    public let trees: Int
    /// Largest order a get accepts: a whole tree.
    public let maxOrder: Int
    /// Offset of the child entries inside the metadata region.
    public let childrenOffset: Int
    /// Whether the metadata holds owner tags.
    public let owners: Bool
    /// Offset of the frame tags (with owners; else equal to ``metadataSize``).
    public let tagsOffset: Int
    /// Offset of the huge tags (with owners; else equal to ``metadataSize``).
    public let hugeTagsOffset: Int
    /// Bytes of metadata the region must hold.
    public let metadataSize: Int

    /// Creates the geometry for `frames` frames with trees of `treeChildren` children, with
    /// owner tags if `owners`.
    /// - Throws: ``LLFreeError/invalidArgument(_:)`` when `frames` is 0 or too large, or
    ///   `treeChildren` is not a power of two in 1...``maxTreeChildren``.
    public init(frames: UInt64, treeChildren: Int = Geometry.defaultTreeChildren, owners: Bool = false) throws(LLFreeError) {
        guard frames > 0, frames <= Geometry.maxFrames else {
            throw .invalidArgument("frame count \(frames) is outside 1...\(Geometry.maxFrames)")
        }
        guard treeChildren > 0, treeChildren <= Geometry.maxTreeChildren,
              treeChildren & (treeChildren - 1) == 0 else {
            throw .invalidArgument("tree size \(treeChildren) children is not a power of two in 1...\(Geometry.maxTreeChildren)")
        }
        self.frames = frames
        self.children = Int((frames + UInt64(Geometry.childFrames) - 1) / UInt64(Geometry.childFrames))
        self.treeChildren = treeChildren
        self.trees = (children + treeChildren - 1) / treeChildren
        self.maxOrder = Geometry.hugeOrder + treeChildren.trailingZeroBitCount
        self.childrenOffset = children * Geometry.lineSize
        let entriesEnd = childrenOffset + Geometry.alignUp(children * 2, Geometry.lineSize)
        self.owners = owners
        self.tagsOffset = entriesEnd
        self.hugeTagsOffset = owners ? entriesEnd + children * Geometry.childFrames * 2 : entriesEnd
        self.metadataSize = owners ? hugeTagsOffset + Geometry.alignUp(children * 2, Geometry.lineSize) : entriesEnd
    }

    /// Bytes of metadata needed for `frames` frames (independent of the tree size).
    public static func metadataSize(frames: UInt64, owners: Bool = false) throws(LLFreeError) -> Int {
        try Geometry(frames: frames, treeChildren: 1, owners: owners).metadataSize
    }

    /// Frames that exist in child `child` (512 except for a partial last child).
    @inlinable
    public func framesIn(child: Int) -> Int {
        let start = UInt64(child) * UInt64(Geometry.childFrames)
        return Int(min(UInt64(Geometry.childFrames), frames - start))
    }

    /// The children of tree `tree`, as a half-open range.
    @inlinable
    public func childRange(tree: Int) -> Range<Int> {
        let start = tree * treeChildren
        return start..<min(start + treeChildren, children)
    }

    /// Frames that exist in tree `tree`.
    @inlinable
    public func framesIn(tree: Int) -> Int {
        let start = UInt64(tree) * UInt64(treeChildren * Geometry.childFrames)
        return Int(min(UInt64(treeChildren * Geometry.childFrames), frames - start))
    }

    @inlinable
    static func alignUp(_ value: Int, _ alignment: Int) -> Int {
        (value + alignment - 1) & ~(alignment - 1)
    }

    public var description: String {
        "\(frames) frames, \(children) children, \(trees) trees of \(treeChildren) children, max order \(maxOrder)\(owners ? ", owner tags" : "")"
    }
}
