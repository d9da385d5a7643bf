// The format over in-memory images: the order of stores, flushes and fences that makes format,
// open, close and each operation crash-consistent, and recovery from crash states built by hand.

import Atomics
import LLFree
@testable import LLFreePool
import Testing

@Suite struct PoolImageTests {
    let frames: UInt64 = 16 * 512 + 40
    let treeChildren = 4

    func layout() throws -> PoolLayout { try PoolLayout(frames: frames, treeChildren: treeChildren, file: "image") }

    /// A formatted, never opened image.
    func formatted() throws -> Region {
        let region = Region(length: try layout().imageLength)
        try PoolImage.format(base: region.base, length: region.length, persistence: VolatilePersistence(),
                             frames: frames, treeChildren: treeChildren, name: "image")
        return region
    }

    func open(_ region: Region, cores: Int = 2) throws(PoolError) -> PoolImage<VolatilePersistence> {
        try PoolImage.open(base: region.base, length: region.length, persistence: VolatilePersistence(), cores: cores, name: "image")
    }

    /// The 16-bit child entry of `child`.
    func entry(_ region: Region, _ child: Int) throws -> UnsafeMutablePointer<UInt16> {
        (region.base + (try layout().childrenOffset) + 2 * child).assumingMemoryBound(to: UInt16.self)
    }

    /// Row `row` of the bitfield of `child`.
    func row(_ region: Region, _ child: Int, _ row: Int) throws -> UnsafeMutablePointer<UInt64> {
        (region.base + (try layout().bitfieldsOffset) + 64 * child + 8 * row).assumingMemoryBound(to: UInt64.self)
    }

    /// The frame tags and huge tag of `child` as a split of its huge frame by `owner` leaves them
    /// once its first step is durable: every frame a run of order 0 held by `owner`, the huge tag
    /// "being split".
    func tagSplit(_ region: Region, _ child: Int, owner: OwnerID) throws {
        let l = try layout()
        let tags = (region.base + l.tagsOffset + 2 * child * Geometry.childFrames).assumingMemoryBound(to: UInt16.self)
        for f in 0..<Geometry.childFrames { tags[f] = FrameTag(head: owner, order: 0).raw }
        let huge = (region.base + l.metadataOffset + l.geometry.hugeTagsOffset + 2 * child).assumingMemoryBound(to: UInt16.self)
        huge.pointee = HugeTag(owner: owner, span: 15).raw
    }

    // MARK: Store order

    @Test func formatCommitsTheMagicLastAfterEverythingIsDurable() throws {
        let region = Region(length: try layout().imageLength)
        // Old bytes everywhere (a reused region), so that format must write every line it owns.
        region.base.initializeMemory(as: UInt8.self, repeating: 0xA5, count: region.length)
        let log = SeamLog(base: region.base)
        try PoolImage.format(base: region.base, length: region.length, persistence: RecordingPersistence(log: log),
                             frames: frames, treeChildren: treeChildren, name: "image")
        let events = log.events
        #expect(Array(events.suffix(3)) == [.store(0, truth: true), .flush(0), .fence])
        // Everything else is durable when the magic is stored.
        let magicAt = events.count - 3
        #expect(SeamLog.undurable(events[..<magicAt]).isEmpty)
        // Every line of the metadata (bitfields, child entries, frame and huge tags) and of the
        // owner table was written, and tags and table are zero now.
        let l = try layout()
        let metadataLines = Set(events.compactMap { if case .store(let line, _) = $0, line >= l.metadataOffset / 64 { return line }; return nil })
        #expect(metadataLines.count == (l.metadataLength + l.ownerTableLength) / 64)
        #expect(l.ownerTableOffset == l.metadataOffset + l.metadataLength)
        // (The padding after the last huge tag is not the allocator's: nothing reads it.)
        let tags = UnsafeRawBufferPointer(start: region.base + l.tagsOffset,
                                          count: l.geometry.hugeTagsOffset - l.geometry.tagsOffset + 2 * l.geometry.children)
        let table = UnsafeRawBufferPointer(start: region.base + l.ownerTableOffset, count: l.ownerTableLength)
        #expect(tags.allSatisfy { $0 == 0 } && table.allSatisfy { $0 == 0 })
        // A fresh image is not a pool until the magic lands: everything but the magic is zero-safe.
        #expect(try PoolImage.open(base: region.base, length: region.length, persistence: VolatilePersistence(), cores: 1, name: "image").header.frames == frames)
    }

    @Test func reformatFirstDestroysTheOldMagic() throws {
        let region = try formatted()
        let log = SeamLog(base: region.base)
        try PoolImage.format(base: region.base, length: region.length, persistence: RecordingPersistence(log: log),
                             frames: frames, treeChildren: treeChildren, name: "image")
        #expect(Array(log.events.prefix(3)) == [.store(0, truth: true), .flush(0), .fence])
    }

    @Test func headerWithoutMagicIsNotAPool() throws {
        let region = try formatted()
        region.base.storeBytes(of: 0, as: UInt64.self)
        let error = poolError { () throws(PoolError) in try open(region) }
        #expect(error?.reason == .notAPool(magic: 0))
    }

    @Test func openMakesDirtyDurableBeforeAnyMutation() throws {
        let region = try formatted()
        // Make it dirty with a lagging counter, so recovery has something to write.
        _ = try open(region)
        try entry(region, 1).pointee = Child(free: 500).raw
        let log = SeamLog(base: region.base)
        let image = try PoolImage.open(base: region.base, length: region.length, persistence: RecordingPersistence(log: log),
                                       cores: 1, name: "image")
        #expect(image.report.recovery?.countersFixed == 1)
        let stateLine = PoolHeader.Word.state * 8 / 64
        #expect(Array(log.events.prefix(3)) == [.store(stateLine, truth: true), .flush(stateLine), .fence])
        #expect(SeamLog.undurable(log.events).isEmpty, "recovery leaves everything durable")
        #expect(image.state == PoolState(clean: false, generation: 2))
    }

    @Test func closePersistsEverythingThenTheCleanState() throws {
        let region = try formatted()
        let log = SeamLog(base: region.base)
        let image = try PoolImage.open(base: region.base, length: region.length, persistence: RecordingPersistence(log: log),
                                       cores: 2, name: "image")
        let owner = try testOwner(image)
        for order in [9, 0, 0, 3] { _ = try image.allocator.get(order: order, core: order % 2, owner: owner) }
        // Counters are not flushed on the fast path...
        #expect(!SeamLog.undurable(log.events).isEmpty)
        image.close()
        let stateLine = PoolHeader.Word.state * 8 / 64
        let events = log.events
        #expect(Array(events.suffix(3)) == [.store(stateLine, truth: true), .flush(stateLine), .fence])
        // ...but all are durable before the clean state is stored.
        #expect(SeamLog.undurable(events[..<(events.count - 3)]).isEmpty)
        #expect(image.state == PoolState(clean: true, generation: 1))
    }

    @Test(arguments: [0, 3, 7, 8, 9, 10])
    func eachOperationFlushesItsTruthAndFencesOnce(order: Int) throws {
        let region = try formatted()
        let log = SeamLog(base: region.base)
        let image = try PoolImage.open(base: region.base, length: region.length, persistence: RecordingPersistence(log: log),
                                       cores: 1, name: "image")
        let owner = try testOwner(image)
        // Settling (once per tree after open, with its own fence) is not part of an operation.
        image.allocator.settleAll()
        // Twice: the second round runs with a reserved tree and a warm hint.
        for _ in 0..<2 {
            let start = log.events.count
            let frame = try image.allocator.get(order: order, core: 0, owner: owner)
            let getEvents = Array(log.events[start...])
            let middle = log.events.count
            try image.allocator.put(frame, order: order, core: 0, owner: owner)
            let putEvents = Array(log.events[middle...])
            for (name, events) in [("get", getEvents), ("put", putEvents)] {
                #expect(events.filter { $0 == .fence }.count == 1, "\(name) order \(order): one fence")
                #expect(events.last == .fence, "\(name) order \(order): the fence comes last")
                let truth = Set(events.compactMap { if case .store(let l, true) = $0 { return l }; return nil })
                #expect(!truth.isEmpty, "\(name) order \(order) changed truth")
                #expect(SeamLog.undurable(events).isDisjoint(with: truth), "\(name) order \(order): a truth line was not flushed")
            }
        }
    }

    // MARK: Crash states built by hand

    @Test func splitInterruptedAfterItsFenceRecoversTheHugeFrame() throws {
        let region = try formatted()
        let image = try open(region)
        let owner = try testOwner(image)
        let child = 2
        try image.allocator.get(at: UInt64(child * 512), order: 9, core: 0, owner: owner)
        // The split's first step is durable (all bits set and tagged, fenced); the flag is not yet
        // cleared.
        for r in 0..<8 { try row(region, child, r).pointee = ~0 }
        try tagSplit(region, child, owner: owner)
        try entry(region, child).pointee = Child(free: 1023, huge: true).raw  // the splitting marker
        let again = try open(region)
        #expect(again.report.wasDirty)
        #expect(again.report.recovery?.bitfieldsCleared == 1)
        #expect(again.allocator.lower.child(child) == Child(free: 0, huge: true))
        // Settling keeps the huge frame for its owner (the split did not finish).
        again.allocator.settleAll()
        #expect(again.allocator.held(by: owner) == 512)
        #expect(again.allocator.validate().isEmpty)
        #expect(try !again.allocator.isFree(UInt64(child * 512), order: 9))
        // The huge frame is whole again: it can be freed as one, or split by a base-frame put.
        try again.allocator.put(UInt64(child * 512) + 7, order: 0, core: 1, owner: owner)
        #expect(again.allocator.lower.child(child) == Child(free: 1))
        #expect(again.allocator.validate().isEmpty)
    }

    @Test func splitInterruptedAfterTheFlagRecoversBaseFrames() throws {
        let region = try formatted()
        let image = try open(region)
        let owner = try testOwner(image)
        let child = 3
        try image.allocator.get(at: UInt64(child * 512), order: 9, core: 0, owner: owner)
        // The split's second step is durable too (the huge flag cleared); its huge tag is not yet.
        for r in 0..<8 { try row(region, child, r).pointee = ~0 }
        try tagSplit(region, child, owner: owner)
        try entry(region, child).pointee = Child(free: 0).raw
        let again = try open(region)
        #expect(again.report.recovery?.repaired == false)
        // Settling keeps the 512 base frames for their owner and clears the stale huge tag.
        again.allocator.settleAll()
        #expect(again.allocator.held(by: owner) == 512)
        #expect(again.allocator.validate().isEmpty)
        for f in 0..<512 { #expect(try !again.allocator.isFree(UInt64(child * 512 + f), order: 0)) }
        try again.allocator.put(UInt64(child * 512 + 5), order: 0, core: 0, owner: owner)
        #expect(try again.allocator.isFree(UInt64(child * 512 + 5), order: 0))
    }

    @Test func partialMultiChildRunIsReleased() throws {
        let region = try formatted()
        _ = try open(region)
        // An order-10 get that crashed after taking the first of its two children.
        try entry(region, 4).pointee = Child(free: 0, huge: true, span: 1).raw
        let again = try open(region)
        #expect(again.report.recovery?.partialHugeRuns == 1)
        #expect(again.report.recovery?.releasedHugeChildren == 1)
        #expect(try again.allocator.isFree(4 * 512, order: 10))
        #expect(again.allocator.freeFrames == Int(frames))
        #expect(again.allocator.validate().isEmpty)
    }

    @Test func laggingCountersAreRecomputedAndRecoveryIsRepeatable() throws {
        let region = try formatted()
        let image = try open(region)
        let owner = try testOwner(image)
        let frame = try image.allocator.get(order: 0, core: 0, owner: owner)
        // A get that decremented child 0's counter twice more but crashed before setting bits,
        // and a put that cleared bits of child 5 but crashed before incrementing.
        let child0 = try entry(region, 0)
        child0.pointee -= 2
        try image.allocator.get(at: 5 * 512 + 64, order: 6, core: 0, owner: owner)
        try row(region, 5, 1).pointee = 0
        let again = try open(region)
        #expect(again.report.recovery?.countersFixed == 2)
        #expect(try !again.allocator.isFree(frame, order: 0))
        #expect(try again.allocator.isFree(5 * 512 + 64, order: 6))
        #expect(again.allocator.freeFrames == Int(frames) - 1)
        // A crash during recovery: recovery runs again and finds nothing left to repair.
        let third = try open(region)
        #expect(third.report.wasDirty && third.report.recovery?.repaired == false)
        #expect(third.allocator.validate().isEmpty)
    }

    // MARK: Refusals on images

    @Test func shortImageIsRefusedUnchanged() throws {
        let region = try formatted()
        let before = Array(UnsafeRawBufferPointer(start: region.base, count: region.length))
        let error = poolError { () throws(PoolError) in
            try PoolImage.open(base: region.base, length: region.length - 64, persistence: VolatilePersistence(), cores: 1, name: "image")
        }
        if case .truncated = error?.reason {} else { Issue.record("\(String(describing: error))") }
        let coresError = poolError { () throws(PoolError) in try open(region, cores: 0) }
        if case .invalidArgument = coresError?.reason {} else { Issue.record("\(String(describing: coresError))") }
        #expect(Array(UnsafeRawBufferPointer(start: region.base, count: region.length)) == before)
        let formatError = poolError { () throws(PoolError) in
            try PoolImage.format(base: region.base, length: 4096, persistence: VolatilePersistence(), frames: frames, name: "image")
        }
        if case .truncated = formatError?.reason {} else { Issue.record("\(String(describing: formatError))") }
        #expect(Array(UnsafeRawBufferPointer(start: region.base, count: region.length)) == before)
    }
}
