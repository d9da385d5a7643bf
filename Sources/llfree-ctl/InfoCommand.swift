// `llfree-ctl info POOL [--json]`: geometry, clean/dirty state and free frames of a pool, read
// through a read-only mapping; never changes the file.

import ArgumentParser
import Foundation
import LLFree
import LLFreePool

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a pool's geometry, state and free frames (read-only).",
        discussion: "Exits 2 if the file is not a usable pool."
    )

    @Argument(help: "The pool file.")
    var pool: String

    @Flag(help: "Print JSON.")
    var json = false

    /// The JSON form of `info`.
    struct Info: Codable {
        var pool: String
        var uuid: String
        var version: UInt64
        var created: String
        var state: String
        var generation: UInt64
        var inUse: Bool
        var frames: UInt64
        var frameSize: Int
        var children: Int
        var trees: Int
        var treeChildren: Int
        var maxOrder: Int
        var fileSize: UInt64
        var metadataOffset: Int
        var metadataLength: Int
        var framesOffset: UInt64
        var framesLength: UInt64
        /// Bytes of the frames object of a split pool (format version 3); null when the frames
        /// are in the pool file.
        var framesObjectSize: UInt64?
        var freeFrames: Int
        var countedFreeFrames: Int
        var freeHugeFrames: Int
        var hugeChildren: Int
        /// Owner-table entries (null for a version-1 pool, which has no owners).
        var ownerCapacity: Int?
        /// Live owners' names.
        var owners: [String]
    }

    func run() throws {
        let inspection: PoolInspection
        do {
            inspection = try Pool.inspect(path: pool)
        } catch {
            printError("llfree-ctl info: \(error)")
            throw ExitCode(2)
        }
        let h = inspection.header
        let g = h.geometry
        let created = Date(timeIntervalSince1970: Double(h.creationTime) / 1e9)
        let info = Info(pool: pool, uuid: h.uuidString, version: h.version,
                        created: ISO8601DateFormatter().string(from: created),
                        state: h.state.clean ? "clean" : "dirty", generation: h.state.generation, inUse: inspection.inUse,
                        frames: h.frames, frameSize: Geometry.frameSize, children: g.children, trees: g.trees,
                        treeChildren: g.treeChildren, maxOrder: g.maxOrder, fileSize: h.layout.fileSize,
                        metadataOffset: h.layout.metadataOffset, metadataLength: h.layout.metadataLength,
                        framesOffset: h.layout.framesOffset, framesLength: h.layout.framesLength,
                        framesObjectSize: h.layout.split ? h.layout.framesObjectSize : nil,
                        freeFrames: inspection.freeFrames, countedFreeFrames: inspection.countedFreeFrames,
                        freeHugeFrames: inspection.freeHugeFrames, hugeChildren: inspection.hugeChildren,
                        ownerCapacity: h.layout.ownerCapacity, owners: inspection.owners.map(\.name))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
            return
        }
        var state = "\(info.state) (generation \(info.generation))"
        if !h.state.clean { state += inspection.inUse ? ", open" : ", not closed cleanly: the next open runs recovery" }
        if inspection.inUse { state += "; in use by another process, figures may be moving" }
        let rows: [(String, String)] = [
            ("pool", pool),
            ("uuid", info.uuid),
            ("format", "version \(info.version), created \(info.created)"),
            ("state", state),
            ("frames", "\(info.frames) of 4K (\(SizeParser.format(info.framesLength)))"),
            ("geometry", "\(g.children) children of 2M, \(g.trees) trees of \(g.treeChildren) children, max order \(g.maxOrder)"),
            ("file", "\(info.fileSize) bytes: header 0, metadata \(info.metadataOffset) (+\(info.metadataLength)), "
                + (info.framesObjectSize.map { "frames in a frames object of their own (\($0) bytes: header 0, frames \(info.framesOffset))" } ?? "frames \(info.framesOffset)")),
            ("free frames", "\(info.freeFrames)" + (info.countedFreeFrames == info.freeFrames ? "" : " (counters say \(info.countedFreeFrames))")),
            ("free huge", "\(info.freeHugeFrames) of 2M"),
            ("huge children", "\(info.hugeChildren) allocated as huge frames"),
            ("owners", info.ownerCapacity.map { "\(info.owners.count) of \($0)" + (info.owners.isEmpty ? "" : ": " + info.owners.joined(separator: ", ")) }
                ?? "none: format version 1, every frame is the legacy owner's"),
        ]
        for (key, value) in rows { print(key.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
    }
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
