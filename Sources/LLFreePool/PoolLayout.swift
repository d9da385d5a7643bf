// Where each area of a pool lies: header block, LLFree metadata (exactly the core's Geometry
// layout, with owner tags in format version 2), the owner table (version 2), frames area aligned
// to 2 MiB, in the same file (versions 1 and 2) or in a frames object of its own (version 3, a
// split pool: the metadata file holds no frame, and the frames object no metadata). Computed from the frame count, tree size and owner capacity alone, so open can
// recompute it and refuse a header whose recorded offsets disagree.

import LLFree

/// Offsets and lengths of a pool's areas, in bytes from the start of the file.
public struct PoolLayout: Sendable, Equatable {
    /// Bytes of the header block.
    public static let headerLength = 4096
    /// Alignment of the frames area in the file, so frames can be mapped with 2 MiB pages.
    public static let framesAlignment = 2 << 20
    /// Owners a pool holds unless its format says otherwise.
    public static let defaultOwnerCapacity = 1024
    /// Most owners a pool can hold: owner numbers are 12 bits, 0 meaning "none" and 4095 being
    /// the allocator's own (``Owners/zeroer``).
    public static let maxOwnerCapacity = Owners.maxTableOwners

    /// The format version: 1 (no owners), 2 (owner tags and owner table) or 3 (version 2 with
    /// the frames in a separate frames object).
    public var version: UInt64 { split ? 3 : ownerCapacity == nil ? 1 : 2 }
    /// Whether the frames live in a frames object of their own (version 3): then
    /// ``framesOffset`` is an offset in that object and ``fileSize`` the metadata file's size.
    public let split: Bool
    /// Entries of the owner table (version 2); nil for a version-1 pool.
    public let ownerCapacity: Int?
    /// Start of the owner table (version 2; equal to the end of the metadata otherwise).
    public let ownerTableOffset: Int
    /// Bytes of the owner table: ``OwnerTable/entrySize`` per entry.
    public let ownerTableLength: Int
    /// Start of the frame tags (version 2; equal to the owner table's offset otherwise).
    public var tagsOffset: Int { metadataOffset + geometry.tagsOffset }

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
    /// Bytes of child entries, padded to a 64-byte line (the owner tags that follow them in
    /// version 2 are not included).
    public let childrenLength: Int
    /// Start of the frames area: frame `n` is at `framesOffset + n * 4096` of the pool file, or
    /// of the frames object in a split pool (after its header block, at 2 MiB).
    public let framesOffset: UInt64
    /// Bytes of the frames area.
    public let framesLength: UInt64
    /// Bytes of the whole pool file (of the metadata file in a split pool).
    public let fileSize: UInt64
    /// Bytes of the frames object of a split pool (its header block and frames); equal to
    /// ``fileSize`` in a single-file pool.
    public let framesObjectSize: UInt64

    /// Bytes of the part the allocator reads and writes: header block and metadata. An image
    /// handed to ``PoolImage`` needs at least this much; the frames area is never touched.
    public var imageLength: Int { ownerTableOffset + ownerTableLength }

    /// The layout for `frames` frames in trees of `treeChildren` children, with an owner table of
    /// `ownerCapacity` entries (format version 2), or without owners (version 1) when nil.
    /// - Throws: ``PoolError/Reason/invalidArgument(_:)`` (naming `file`) for a frame count, tree
    ///   size or owner capacity the allocator does not support.
    public init(frames: UInt64, treeChildren: Int, ownerCapacity: Int? = PoolLayout.defaultOwnerCapacity, split: Bool = false,
                file: String) throws(PoolError) {
        if split && ownerCapacity == nil {
            throw PoolError(file: file, reason: .invalidArgument("a split pool (format version 3) has owners"))
        }
        self.split = split
        if let ownerCapacity, ownerCapacity < 1 || ownerCapacity > PoolLayout.maxOwnerCapacity {
            throw PoolError(file: file, reason: .invalidArgument("owner capacity \(ownerCapacity) is outside 1...\(PoolLayout.maxOwnerCapacity)"))
        }
        do {
            geometry = try Geometry(frames: frames, treeChildren: treeChildren, owners: ownerCapacity != nil)
        } catch {
            throw PoolError(file: file, reason: .invalidArgument(error.description))
        }
        self.ownerCapacity = ownerCapacity
        metadataOffset = PoolLayout.headerLength
        metadataLength = geometry.metadataSize
        bitfieldsOffset = metadataOffset
        bitfieldsLength = geometry.childrenOffset
        childrenOffset = metadataOffset + geometry.childrenOffset
        childrenLength = geometry.tagsOffset - geometry.childrenOffset
        ownerTableOffset = metadataOffset + metadataLength
        ownerTableLength = (ownerCapacity ?? 0) * OwnerTableLayout.entrySize
        let align = UInt64(PoolLayout.framesAlignment)
        framesLength = frames * UInt64(Geometry.frameSize)
        if split {
            // The frames object: one header block, frames from 2 MiB (huge frames stay aligned).
            framesOffset = align
            framesObjectSize = framesOffset + framesLength
            let page = UInt64(PoolLayout.headerLength)
            fileSize = (UInt64(ownerTableOffset + ownerTableLength) + page - 1) & ~(page - 1)
        } else {
            framesOffset = (UInt64(ownerTableOffset + ownerTableLength) + align - 1) & ~(align - 1)
            fileSize = framesOffset + framesLength
            framesObjectSize = fileSize
        }
    }
}

/// Byte layout of one owner-table entry (docs/pool-format.md, "Owner table").
public enum OwnerTableLayout {
    /// Bytes of one entry: four 64-byte lines.
    public static let entrySize = 256
    /// Most bytes of an owner's name.
    public static let maxName = 64
    /// Bytes of an owner's root value.
    public static let rootSize = 64
}
