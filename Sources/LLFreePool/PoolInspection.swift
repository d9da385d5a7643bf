// Read-only inspection of a pool: header, state, free frames by the truth and by the counters,
// and every inconsistency the core's validation finds. Used by `llfree-ctl info` and `check`;
// it only loads, and the file layer hands it a PROT_READ mapping so a store could not slip in.

import LLFree

/// What a read-only look at a pool found.
public struct PoolInspection: Sendable {
    /// The validated header.
    public let header: PoolHeader
    /// Whether another opener held the pool's lock during the inspection (figures may move).
    public var inUse: Bool
    /// Free frames by the bitfields and huge flags (what recovery would count).
    public let freeFrames: Int
    /// Free frames by the child counters (equal to ``freeFrames`` on a consistent pool).
    public let countedFreeFrames: Int
    /// Free, aligned huge (order 9) frames by the truth.
    public let freeHugeFrames: Int
    /// Children allocated as (part of) huge frames.
    public let hugeChildren: Int
    /// Inconsistencies between counters and bitfields (one line each); empty if consistent.
    public let problems: [String]
    /// The live owners of a pool with owners (format 2 or 3; empty for version 1, or when the table is corrupt).
    public var owners: [OwnerRecord] = []

    /// Whether counters, bitfields and huge flags agree.
    public var consistent: Bool { problems.isEmpty }

    /// Inspects the pool image at `base` without writing to it.
    /// - Parameters:
    ///   - length: readable bytes at `base`; at least the layout's `imageLength`.
    /// - Throws: ``PoolError`` if the header is not a usable pool or the image is too short.
    public static func inspect(base: UnsafeRawPointer, length: Int, name: String) throws(PoolError) -> PoolInspection {
        let header = try PoolHeader.read(from: base, length: length, file: name)
        guard length >= header.layout.imageLength else {
            throw PoolError(file: name, reason: .truncated(size: UInt64(length), needed: UInt64(header.layout.imageLength)))
        }
        // Lower only loads in the calls below (child, actualFree, counted, freeRuns, validate);
        // the mutable pointer is what its initialiser takes, not a licence to write.
        let lower = Lower(geometry: header.geometry, region: UnsafeMutableRawPointer(mutating: base + header.layout.metadataOffset),
                          persistence: VolatilePersistence())
        var free = 0
        var huge = 0
        for c in 0..<header.geometry.children {
            free += lower.actualFree(c)
            if lower.child(c).huge { huge += 1 }
        }
        var problems = lower.validate()
        var owners: [OwnerRecord] = []
        if let capacity = header.layout.ownerCapacity {
            // Reading only: the table's initialiser and lookups load, never store.
            do {
                let table = try OwnerTable(base: UnsafeMutableRawPointer(mutating: base + header.layout.ownerTableOffset),
                                           capacity: capacity, persistence: VolatilePersistence(), file: name)
                owners = table.owners
            } catch {
                problems.append("\(error.reason)")
            }
        }
        return PoolInspection(header: header, inUse: false, freeFrames: free,
                              countedFreeFrames: lower.counted(0..<header.geometry.children),
                              freeHugeFrames: lower.freeRuns(order: Geometry.hugeOrder), hugeChildren: huge,
                              problems: problems, owners: owners)
    }
}
