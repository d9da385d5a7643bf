// The pool format over any mapped region: format, open (validate, mark dirty, recover, build the
// upper level) and close (drain, persist, mark clean), with every persistent store going through
// the Persistence seam. The file layer (Pool) runs it on a libpmem mapping; the crash simulator
// runs the same code on an in-memory image with its own Persistence.

import Atomics
import LLFree

/// An open pool over a mapped region: the header, the allocator over its metadata, and what
/// opening it did.
///
/// The region is the pool's first ``PoolLayout/imageLength`` bytes at least (header block and
/// metadata); the frames area beyond is never touched. `base` must be 64-byte aligned.
public struct PoolImage<P: Persistence>: @unchecked Sendable {
    /// Name used in errors (the file's path, or the simulator's label).
    public let name: String
    public let base: UnsafeMutableRawPointer
    public let length: Int
    /// The header as validated at open (its state is the one found, before marking dirty).
    public let header: PoolHeader
    /// The allocator. Valid until ``close()`` or until the region is unmapped.
    public let allocator: LLFree<P>
    /// The owner table (format version 2); nil for a version-1 pool, whose frames have no owner.
    public let owners: OwnerTable<P>?
    /// What open found and did.
    public let report: OpenReport
    @usableFromInline let persistence: P

    // MARK: Format

    /// Writes a new, empty, clean pool into `base`.
    ///
    /// Store order, so that a crash at any point leaves a region that either opens as this new
    /// pool or is refused as "not a pool": (1) if a magic is present, it is cleared and made
    /// durable; (2) the metadata is written, flushed and fenced (``Lower/format()``); (3) every
    /// header word but the magic, including the clean state, is written, flushed and fenced;
    /// (4) the magic is written, flushed and fenced. Only (4) makes the region a pool. The owner
    /// table (version 2) is zeroed with the metadata in (2).
    /// - Parameters:
    ///   - length: readable and writable bytes at `base`; at least the layout's `imageLength`.
    ///   - uuid: 16 bytes; random when nil.
    ///   - creationTime: nanoseconds since the Unix epoch; now when nil.
    ///   - ownerCapacity: entries of the owner table (format version 2); nil formats version 1,
    ///     without owners (for tests of old pools).
    ///   - framesZeroed: the frames read as zeros (a new or truncated file): with owners, every
    ///     frame is marked known zero, so no get writes it before the idle zeroer or a put does.
    /// - Throws: ``PoolError`` for an unsupported geometry or a region that is too short, before
    ///   anything is written.
    @discardableResult
    public static func format(base: UnsafeMutableRawPointer, length: Int, persistence: P, frames: UInt64,
                              treeChildren: Int = Geometry.defaultTreeChildren, uuid: [UInt8]? = nil,
                              creationTime: UInt64? = nil, ownerCapacity: Int? = PoolLayout.defaultOwnerCapacity,
                              split: Bool = false, framesZeroed: Bool = false, name: String) throws(PoolError) -> PoolHeader {
        let layout = try PoolLayout(frames: frames, treeChildren: treeChildren, ownerCapacity: ownerCapacity, split: split, file: name)
        guard length >= layout.imageLength else {
            throw PoolError(file: name, reason: .truncated(size: UInt64(length), needed: UInt64(layout.imageLength)))
        }
        guard UInt(bitPattern: base) % UInt(Geometry.lineSize) == 0 else {
            throw PoolError(file: name, reason: .invalidArgument("the image is not 64-byte aligned"))
        }
        if let uuid, uuid.count != 16 {
            throw PoolError(file: name, reason: .invalidArgument("a UUID has 16 bytes, not \(uuid.count)"))
        }
        let header = PoolHeader(uuid: uuid ?? PoolHeader.randomUUID(), layout: layout, creationTime: creationTime ?? PoolHeader.now(),
                                state: PoolState(clean: true, generation: 0))
        let words = headerWords(base)
        let p = persistence

        // (1) Whatever was here stops being a pool before any of it changes.
        if UnsafeAtomic<UInt64>(at: words + PoolHeader.Word.magic).load(ordering: .relaxed) != 0 {
            store(words, PoolHeader.Word.magic, 0, p)
            p.fence()
        }
        // (2) Metadata: every frame free.
        Lower(geometry: layout.geometry, region: base + layout.metadataOffset, persistence: p).format(zeroed: framesZeroed)
        if let capacity = layout.ownerCapacity {
            OwnerTable.format(base: base + layout.ownerTableOffset, capacity: capacity, persistence: p)
            p.fence()
        }
        // (3) The header without its magic; the rest of the block zero. Only changed lines
        // are flushed.
        let immutable = header.immutableWords()
        let blockWords = PoolLayout.headerLength / 8
        var line = 0
        while line < blockWords {
            var changed = false
            for i in line..<(line + 8) where i != PoolHeader.Word.magic {
                let value: UInt64
                if i < immutable.count { value = immutable[i] }
                else if i == PoolHeader.Word.state { value = header.state.raw }
                else { value = 0 }
                let atomic = UnsafeAtomic<UInt64>(at: words + i)
                if atomic.load(ordering: .relaxed) != value.littleEndian {
                    atomic.store(value.littleEndian, ordering: .relaxed)
                    p.stored(UnsafeMutableRawPointer(words + i), truth: true)
                    changed = true
                }
            }
            if changed { p.flush(UnsafeMutableRawPointer(words + line)) }
            line += 8
        }
        p.fence()
        // (4) The commit point.
        store(words, PoolHeader.Word.magic, PoolHeader.magic, p)
        p.fence()
        return header
    }

    // MARK: Open

    /// Opens the pool in `base`: validates the header and the owner table, makes the dirty state
    /// durable, runs the recovery scan if the pool was not closed cleanly, and builds the upper
    /// level.
    ///
    /// With owners (version 2) the frame tags are not read here: every tree starts unsettled and
    /// is settled (``LLFree/settleAll()``) the first time a get or put needs it, or by whoever
    /// calls ``LLFree/settleNext()`` in the background. Settling keeps the runs of live
    /// persistent owners and frees the rest (ephemeral owners', untagged allocations).
    ///
    /// Nothing is written before every check passed, so a refusal leaves the region unchanged.
    /// - Parameters:
    ///   - length: readable and writable bytes at `base`; at least the layout's `imageLength`.
    ///   - cores: cores of the allocator, 1...65536.
    /// - Throws: ``PoolError`` for a region that is not a usable pool or a bad core count.
    public static func open(base: UnsafeMutableRawPointer, length: Int, persistence: P, cores: Int,
                            name: String) throws(PoolError) -> PoolImage<P> {
        let clock = ContinuousClock()
        var start = clock.now
        guard cores > 0, cores <= 1 << 16 else {
            throw PoolError(file: name, reason: .invalidArgument("core count \(cores) is outside 1...65536"))
        }
        let header = try PoolHeader.read(from: base, length: length, file: name)
        guard length >= header.layout.imageLength else {
            throw PoolError(file: name, reason: .truncated(size: UInt64(length), needed: UInt64(header.layout.imageLength)))
        }
        var owners: OwnerTable<P>? = nil
        if let capacity = header.layout.ownerCapacity {
            owners = try OwnerTable(base: base + header.layout.ownerTableOffset, capacity: capacity, persistence: persistence, file: name)
        }
        let headerCheck = clock.now - start

        // Dirty before the first mutation, recovery included (a crash in recovery re-runs it).
        start = clock.now
        let p = persistence
        let generation = (header.state.generation &+ 1) & (UInt64.max >> 8)
        store(headerWords(base), PoolHeader.Word.state, PoolState(clean: false, generation: generation).raw, p)
        p.fence()
        let markDirty = clock.now - start

        let lower = Lower(geometry: header.geometry, region: base + header.layout.metadataOffset, persistence: p)
        var recovery: RecoveryReport? = nil
        start = clock.now
        if !header.state.clean { recovery = lower.recover() }
        let scan = clock.now - start

        start = clock.now
        let allocator: LLFree<P>
        do {
            if let owners {
                let keeping = owners.keeping
                allocator = try LLFree(lower: lower, cores: cores, settled: false, keep: { keeping.keeps($0) },
                                       clean: header.state.clean)
            } else {
                allocator = try LLFree(lower: lower, cores: cores)
            }
        } catch {
            // Unreachable: the core count was checked above; kept typed rather than trapping.
            throw PoolError(file: name, reason: .invalidArgument(error.description), unchanged: false)
        }
        let upper = clock.now - start

        let report = OpenReport(wasDirty: !header.state.clean, generation: generation, recovery: recovery,
                                headerCheck: headerCheck, markDirty: markDirty, recoveryScan: scan, upperLevel: upper)
        return PoolImage(name: name, base: base, length: length, header: header, allocator: allocator,
                         owners: owners, report: report, persistence: p)
    }

    // MARK: Close

    /// Closes the pool: drains every reservation, persists every child entry, then makes the
    /// clean state durable. No get or put may run during or after this call.
    public func close() {
        // Settling may free frames (ephemeral owners'); a clean pool must hold settled tags.
        allocator.settleAll()
        allocator.drainAll()
        allocator.lower.persistAll()
        store(Self.headerWords(base), PoolHeader.Word.state, PoolState(clean: true, generation: report.generation).raw)
        persistence.fence()
    }

    /// The state word as it is in the region now.
    public var state: PoolState? {
        PoolState(raw: UInt64(littleEndian: UnsafeAtomic<UInt64>(at: Self.headerWords(base) + PoolHeader.Word.state).load(ordering: .relaxed)))
    }

    /// The same image with its report changed (the file layer adds the mapping time).
    func withReport(_ change: (inout OpenReport) -> Void) -> PoolImage<P> {
        var report = self.report
        change(&report)
        return PoolImage(name: name, base: base, length: length, header: header, allocator: allocator,
                         owners: owners, report: report, persistence: persistence)
    }

    // MARK: Stores

    private func store(_ words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, _ index: Int, _ value: UInt64) {
        Self.store(words, index, value, persistence)
    }

    /// One aligned 8-byte atomic store to header word `index`, reported and flushed (not fenced).
    private static func store(_ words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, _ index: Int, _ value: UInt64, _ p: P) {
        let atomic = UnsafeAtomic<UInt64>(at: words + index)
        atomic.store(value.littleEndian, ordering: .releasing)
        let address = UnsafeMutableRawPointer(words + index)
        p.stored(address, truth: true)
        p.flush(address)
    }

    private static func headerWords(_ base: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage> {
        base.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: PoolLayout.headerLength / 8)
    }
}
