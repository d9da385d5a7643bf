// `llfree-ctl format POOL --size SIZE`: creates a sparse pool file and formats it (metadata first,
// header last). Refuses an existing file unless --force.

import ArgumentParser
import LLFree
import LLFreePool

struct FormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Create and format a pool file.",
        discussion: "SIZE is the memory the pool manages (its frames area), e.g. 512M, 1G, 4T; the file is larger by the header and the metadata, rounded to 2 MiB, and sparse. With --frames the pool is split (format version 3): POOL holds only the header and the metadata (mode 0600, for the daemon alone), and the frames object (a new file, mode 0600, or an existing device DAX device) holds a 4 KiB header tying it to POOL by UUID and the frames from 2 MiB on, so that a client given its descriptor can never reach the allocator's metadata."
    )

    @Argument(help: "The pool file to create.")
    var pool: String

    @Option(help: "Memory managed: a multiple of 4K, with unit K, M, G, T (powers of 1024).")
    var size: String

    @Option(help: "Children (2 MiB regions) per tree, a power of two.")
    var treeChildren: Int = Geometry.defaultTreeChildren

    @Option(help: "Durability of the format itself: auto, cpu-cache or msync.")
    var durability: DurabilityRequest = .automatic

    @Option(help: "Owners the pool's owner table holds, 1...4094 (256 bytes each; fixed at format).")
    var owners: Int = PoolLayout.defaultOwnerCapacity

    @Option(help: ArgumentHelp("Put the frames in a frames object of their own at this path (a split pool).", valueName: "path"))
    var frames: String?

    @Flag(help: "Overwrite an existing file.")
    var force = false

    func run() throws {
        let bytes: UInt64
        do {
            bytes = try SizeParser.parse(size)
        } catch {
            throw ValidationError(error.description)
        }
        guard bytes >= UInt64(Geometry.frameSize), bytes % UInt64(Geometry.frameSize) == 0 else {
            throw ValidationError("size \(size) is not a positive multiple of 4K")
        }
        let (header, used) = try Pool.format(path: pool, frames: bytes / UInt64(Geometry.frameSize),
                                             treeChildren: treeChildren, ownerCapacity: owners, framesPath: frames, force: force, durability: durability)
        print("formatted \(pool): \(SizeParser.format(header.layout.framesLength)) in \(header.frames) frames, \(header.geometry.children) children, \(header.geometry.trees) trees of \(header.treeChildren) children")
        print("file \(header.layout.fileSize) bytes (sparse), metadata \(header.layout.metadataLength) bytes with owner tags, owner table \(header.layout.ownerTableLength) bytes for \(owners) owners, frames at offset \(header.layout.framesOffset)\(frames.map { " of the frames object \($0) (\(header.layout.framesObjectSize) bytes, sparse)" } ?? "")")
        print("uuid \(header.uuidString); durability \(used)")
    }
}

// Lets the durability request (auto, cpu-cache, msync) be a command-line option.

extension DurabilityRequest: ExpressibleByArgument {}
