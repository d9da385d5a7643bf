// The owner table of a version-2 pool, as a specification: what a new pool holds, what survives a
// close and a crash, what the table refuses (and that a refusal changes nothing), the store
// orders that make each change crash-consistent, what settling at open does with each owner's
// frames, that a corrupt entry is refused at open, and that version-1 pools still work without
// owners.

import Foundation
import LLFree
@testable import LLFreePool
import Testing

/// How a pool is left before it is opened again.
enum Leave: String, CaseIterable, CustomTestStringConvertible {
    /// ``Pool/close()``: clean.
    case close
    /// ``Pool/abandon()``: dirty, as after a crash of the process.
    case abandon

    var testDescription: String { rawValue }

    func apply(_ pool: Pool) throws {
        switch self {
        case .close: try pool.close()
        case .abandon: try pool.abandon()
        }
    }
}

extension Pool {
    /// The image of a pool opened with `cpu-cache` durability (which uses PmemPersistence).
    var pmemImage: PoolImage<PmemPersistence>? {
        if case .pmem(let image) = allocator { return image }
        return nil
    }
}

/// Log of seam calls that keeps the byte offset of every store (SeamLog keeps only its line), for
/// orders inside one line, such as an owner entry's state word stored after its other fields.
final class WordLog {
    enum Event: Equatable { case store(Int), flush(Int), fence }
    var events: [Event] = []
    let base: UInt

    init(base: UnsafeMutableRawPointer) { self.base = UInt(bitPattern: base) }

    func offset(_ address: UnsafeMutableRawPointer) -> Int { Int(UInt(bitPattern: address) - base) }

    /// Lines stored in `events` that the line model (see SeamLog) would not have made durable.
    static func undurable<C: Collection<Event>>(_ events: C) -> Set<Int> {
        SeamLog.undurable(events.map { event -> SeamLog.Event in
            switch event {
            case .store(let offset): return .store(offset / 64, truth: true)
            case .flush(let line): return .flush(line)
            case .fence: return .fence
            }
        })
    }

    /// The offsets stored in `events`.
    static func stores<C: Collection<Event>>(_ events: C) -> Set<Int> {
        Set(events.compactMap { if case .store(let offset) = $0 { return offset }; return nil })
    }
}

/// A Persistence that records every call into a WordLog (single-threaded tests only).
struct WordRecordingPersistence: Persistence {
    let log: WordLog
    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) { log.events.append(.store(log.offset(address))) }
    func flush(_ address: UnsafeMutableRawPointer) { log.events.append(.flush(log.offset(address) / 64)) }
    func fence() { log.events.append(.fence) }
    func zero(frame: UInt64, count: Int) -> Bool { false }
}

@Suite struct OwnerTableTests {
    let zero = [UInt8](repeating: 0, count: OwnerTableLayout.rootSize)
    let a = (0..<OwnerTableLayout.rootSize).map { UInt8($0 + 1) }
    let b = (0..<OwnerTableLayout.rootSize).map { UInt8(200 - $0) }

    // MARK: Helpers

    /// Formats a small version-2 pool file.
    func formatted(_ label: String, ownerCapacity: Int = PoolLayout.defaultOwnerCapacity, frames: UInt64 = smallFrames) throws -> ScratchPath {
        let scratch = ScratchPath(label)
        try Pool.format(path: scratch.path, frames: frames, treeChildren: 4, ownerCapacity: ownerCapacity, durability: .cpuCache)
        return scratch
    }

    func open(_ scratch: ScratchPath) throws(PoolError) -> Pool {
        try Pool.open(path: scratch.path, cores: 2, durability: .cpuCache)
    }

    func table(_ pool: Pool) throws -> OwnerTable<PmemPersistence> {
        let image = try #require(pool.pmemImage)
        return try #require(image.owners)
    }

    /// Byte offset of owner `id`'s entry in the pool.
    func entryOffset(_ header: PoolHeader, _ id: OwnerID) -> Int {
        header.layout.ownerTableOffset + (Int(id) - 1) * OwnerTableLayout.entrySize
    }

    // MARK: A new pool

    @Test func aNewPoolHasVersion2AndAnEmptyTable() throws {
        let scratch = try formatted("empty"); defer { scratch.remove() }
        #expect(try readWord(scratch.path, at: 8) == 2)
        let pool = try open(scratch)
        defer { try? pool.close() }
        #expect(pool.header.version == 2)
        #expect(pool.header.layout.ownerCapacity == PoolLayout.defaultOwnerCapacity)
        let image = try #require(pool.pmemImage)
        #expect(image.allocator.hasOwners)
        let table = try table(pool)
        #expect(table.capacity == PoolLayout.defaultOwnerCapacity)
        #expect(table.count == 0 && table.owners.isEmpty)
        #expect(table.owner(named: "anyone") == nil && table.owner(1) == nil)
        #expect(throws: OwnerTableError.unknown(1)) { try table.root(1) }
        #expect(!table.keeps(1))
        // With owners, a get must name one.
        #expect(throws: LLFreeError.self) { try image.allocator.get(order: 0, core: 0) }
    }

    // MARK: Owners survive

    @Test(arguments: Leave.allCases)
    func ownersAreFoundByNameWithTheirFieldsAfterAReopen(leave: Leave) throws {
        let scratch = try formatted("survive"); defer { scratch.remove() }
        let pool = try open(scratch)
        let table = try table(pool)
        let longest = String(repeating: "é", count: OwnerTableLayout.maxName / 2)  // 64 bytes
        let created = [
            try table.create(name: "db", lifetime: .persistent, quota: 100, uid: 1000, gid: 100),
            try table.create(name: "scratch", lifetime: .ephemeral, quota: nil, uid: 0, gid: nil),
            try table.create(name: longest, lifetime: .persistent, quota: 1 << 40, uid: UInt32.max - 1, gid: 0),
        ]
        #expect(created.map(\.id) == [1, 2, 3], "the lowest free entries, in order")
        #expect(created.map(\.name) == ["db", "scratch", longest])
        #expect(created[0].created > 0 && created[0].created <= created[2].created)
        try leave.apply(pool)

        let again = try open(scratch)
        defer { try? again.close() }
        #expect(again.report.wasDirty == (leave == .abandon))
        let reopened = try self.table(again)
        #expect(reopened.count == 3)
        for record in created {
            #expect(reopened.owner(named: record.name) == record)
            #expect(reopened.owner(record.id) == record)
            #expect(try reopened.root(record.id) == zero)
        }
        #expect(reopened.owners == created)
        #expect(reopened.keeps(1) && !reopened.keeps(2) && reopened.keeps(3), "only persistent owners keep their frames")
    }

    @Test func theRecordCreateReturnsIsTheOneStored() throws {
        let scratch = try formatted("stored"); defer { scratch.remove() }
        let pool = try open(scratch)
        defer { try? pool.close() }
        let table = try table(pool)
        // A quota of 0 and a gid of 0xFFFFFFFF are stored as "none".
        let record = try table.create(name: "edge", lifetime: .persistent, quota: 0, uid: 7, gid: UInt32.max)
        #expect(record.quota == nil && record.gid == nil)
        #expect(table.owner(record.id) == record)
    }

    @Test func removeFreesTheEntryForReuse() throws {
        let scratch = try formatted("remove"); defer { scratch.remove() }
        let pool = try open(scratch)
        let table = try table(pool)
        for name in ["a", "b", "c"] { _ = try table.create(name: name, lifetime: .persistent, quota: nil, uid: 0, gid: nil) }
        try table.remove(2)
        #expect(table.owner(named: "b") == nil && table.owner(2) == nil)
        #expect(table.count == 2 && !table.keeps(2))
        // Once removed, the number is unknown to every change.
        #expect(throws: OwnerTableError.unknown(2)) { try table.remove(2) }
        #expect(throws: OwnerTableError.unknown(2)) { try table.setQuota(2, 5) }
        #expect(throws: OwnerTableError.unknown(2)) { try table.compareAndSetRoot(2, expected: zero, new: a) }
        #expect(throws: OwnerTableError.unknown(2)) { try table.root(2) }
        // The name and the entry can be taken again; the lowest free entry is reused.
        let reused = try table.create(name: "b", lifetime: .ephemeral, quota: 3, uid: 1, gid: nil)
        #expect(reused.id == 2)
        try table.remove(1)
        try pool.abandon()

        let again = try open(scratch)
        defer { try? again.close() }
        let reopened = try self.table(again)
        #expect(reopened.owners.map(\.name) == ["b", "c"])
        #expect(reopened.owner(named: "b") == reused)
        #expect(reopened.owner(1) == nil && reopened.owner(named: "a") == nil)
        #expect(try reopened.root(2) == zero, "a reused entry starts with a zero root")
        #expect(try reopened.create(name: "d", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id == 1)
    }

    // MARK: Refusals change nothing

    @Test func aDuplicateNameIsRefused() throws {
        let scratch = try formatted("duplicate"); defer { scratch.remove() }
        let pool = try open(scratch)
        defer { try? pool.close() }
        let table = try table(pool)
        let first = try table.create(name: "db", lifetime: .persistent, quota: 10, uid: 0, gid: nil)
        #expect(throws: OwnerTableError.exists("db")) {
            try table.create(name: "db", lifetime: .ephemeral, quota: nil, uid: 1, gid: nil)
        }
        #expect(table.count == 1 && table.owner(named: "db") == first && table.owner(2) == nil)
        // Case matters: another case is another name.
        #expect(try table.create(name: "DB", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id == 2)
    }

    @Test(arguments: ["", String(repeating: "x", count: OwnerTableLayout.maxName + 1),
                      String(repeating: "é", count: OwnerTableLayout.maxName / 2) + "x", "a\u{0}b", "\u{0}"])
    func aBadNameIsRefused(name: String) throws {
        let scratch = try formatted("badname"); defer { scratch.remove() }
        let pool = try open(scratch)
        defer { try? pool.close() }
        let table = try table(pool)
        let entries = UnsafeRawBufferPointer(start: table.base, count: table.capacity * OwnerTableLayout.entrySize)
        let before = Array(entries)
        #expect(throws: OwnerTableError.invalidName(name)) {
            try table.create(name: name, lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        }
        #expect(table.count == 0 && Array(entries) == before)
    }

    @Test func aFullTableIsRefused() throws {
        let scratch = try formatted("full", ownerCapacity: 2); defer { scratch.remove() }
        let pool = try open(scratch)
        defer { try? pool.close() }
        let table = try table(pool)
        #expect(table.capacity == 2)
        _ = try table.create(name: "one", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        _ = try table.create(name: "two", lifetime: .ephemeral, quota: nil, uid: 0, gid: nil)
        #expect(throws: OwnerTableError.full(capacity: 2)) {
            try table.create(name: "three", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        }
        #expect(table.owners.map(\.name) == ["one", "two"])
        // A duplicate is reported as such even when the table is full.
        #expect(throws: OwnerTableError.exists("one")) {
            try table.create(name: "one", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        }
        try table.remove(1)
        #expect(try table.create(name: "three", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id == 1)
    }

    @Test func anOwnerCapacityOutsideTheOwnerNumbersIsRefusedAtFormat() {
        let scratch = ScratchPath("capacity"); defer { scratch.remove() }
        for capacity in [0, PoolLayout.maxOwnerCapacity + 1] {
            let error = poolError { () throws(PoolError) in
                try Pool.format(path: scratch.path, frames: smallFrames, ownerCapacity: capacity, durability: .cpuCache)
            }
            if case .invalidArgument = error?.reason {} else { Issue.record("capacity \(capacity): \(String(describing: error))") }
            #expect(!FileManager.default.fileExists(atPath: scratch.path))
        }
    }

    // MARK: Quota and root

    @Test(arguments: Leave.allCases)
    func aQuotaIsDurable(leave: Leave) throws {
        let scratch = try formatted("quota"); defer { scratch.remove() }
        let pool = try open(scratch)
        let table = try table(pool)
        let owner = try table.create(name: "db", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        let set = try table.setQuota(owner.id, 512)
        #expect(set.quota == 512 && set.name == "db" && set.created == owner.created)
        try leave.apply(pool)

        let again = try open(scratch)
        let reopened = try self.table(again)
        #expect(reopened.owner(named: "db")?.quota == 512)
        #expect(try reopened.setQuota(owner.id, nil).quota == nil)
        try leave.apply(again)

        let third = try open(scratch)
        defer { try? third.close() }
        #expect(try self.table(third).owner(named: "db") == owner, "no quota, and every other field as created")
    }

    @Test(arguments: Leave.allCases)
    func theRootIsSwappedOnlyWhenTheExpectedValueMatches(leave: Leave) throws {
        let scratch = try formatted("root"); defer { scratch.remove() }
        let pool = try open(scratch)
        let table = try table(pool)
        let id = try table.create(name: "db", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        let other = try table.create(name: "other", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        #expect(try table.root(id) == zero)
        let first = try table.compareAndSetRoot(id, expected: zero, new: a)
        #expect(first.swapped && first.current == a)
        // A stale expectation fails and returns the current value, which stays.
        let stale = try table.compareAndSetRoot(id, expected: zero, new: b)
        #expect(!stale.swapped && stale.current == a)
        #expect(try table.root(id) == a)
        let second = try table.compareAndSetRoot(id, expected: a, new: b)
        #expect(second.swapped && second.current == b)
        #expect(try table.root(other) == zero, "roots are per owner")
        try leave.apply(pool)

        let again = try open(scratch)
        defer { try? again.close() }
        let reopened = try self.table(again)
        #expect(try reopened.root(id) == b)
        let late = try reopened.compareAndSetRoot(id, expected: a, new: zero)
        #expect(!late.swapped && late.current == b)
        // Setting the value it has is a successful swap.
        let same = try reopened.compareAndSetRoot(id, expected: b, new: b)
        #expect(same.swapped && same.current == b)
    }

    // MARK: Store orders

    /// A formatted image opened with a WordRecordingPersistence, and its layout.
    func recordedImage() throws -> (Region, PoolLayout, PoolImage<WordRecordingPersistence>, WordLog) {
        let layout = try PoolLayout(frames: smallFrames, treeChildren: 4, file: "image")
        let region = Region(length: layout.imageLength)
        try PoolImage.format(base: region.base, length: region.length, persistence: VolatilePersistence(),
                             frames: smallFrames, treeChildren: 4, name: "image")
        let log = WordLog(base: region.base)
        let image = try PoolImage.open(base: region.base, length: region.length, persistence: WordRecordingPersistence(log: log),
                                       cores: 1, name: "image")
        return (region, layout, image, log)
    }

    @Test func createMakesTheFieldsDurableBeforeItStoresTheStateWord() throws {
        let (region, layout, image, log) = try recordedImage()
        defer { withExtendedLifetime(region) {} }
        let table = try #require(image.owners)
        _ = try table.create(name: "first", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        for (name, lifetime) in [("db", OwnerLifetime.persistent), ("cache", .ephemeral)] {
            let start = log.events.count
            let record = try table.create(name: name, lifetime: lifetime, quota: 77, uid: 5, gid: 6)
            let events = Array(log.events[start...])
            let entry = layout.ownerTableOffset + (Int(record.id) - 1) * OwnerTableLayout.entrySize
            // The state word is stored once: the commit point.
            let commits = events.indices.filter { events[$0] == .store(entry) }
            try #require(commits.count == 1, "\(name): one store of the state word")
            let commit = commits[0]
            // Before it, every other word of the entry (and nothing else) was stored, flushed
            // and fenced: a crash there leaves a free entry, whatever its other words hold.
            #expect(WordLog.stores(events[..<commit]) == Set((1..<32).map { entry + 8 * $0 }), "\(name)")
            #expect(WordLog.undurable(events[..<commit]).isEmpty, "\(name): fields durable before the commit")
            // After it: its line flushed, one fence, nothing more.
            #expect(Array(events[commit...]) == [.store(entry), .flush(entry / 64), .fence], "\(name)")
        }
    }

    @Test func rootSwitchWritesTheOtherSlotAndFencesBeforeTheStateWord() throws {
        let (region, layout, image, log) = try recordedImage()
        defer { withExtendedLifetime(region) {} }
        let table = try #require(image.owners)
        let id = try table.create(name: "db", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        let entry = layout.ownerTableOffset + (Int(id) - 1) * OwnerTableLayout.entrySize
        func slot() -> Int { Int((region.base + entry).load(as: UInt64.self) >> 16 & 0xFF) }
        #expect(slot() == 0)
        for (expected, new) in [(zero, a), (a, b), (b, zero)] {
            let inUse = slot()
            let start = log.events.count
            let result = try table.compareAndSetRoot(id, expected: expected, new: new)
            #expect(result.swapped && result.current == new)
            let events = Array(log.events[start...])
            let switches = events.indices.filter { events[$0] == .store(entry) }
            try #require(switches.count == 1)
            let switchAt = switches[0]
            // The new value went into the slot not in use, entirely, and was durable before the
            // state word selected it; the slot in use was not touched.
            let other = entry + 128 + (1 - inUse) * OwnerTableLayout.rootSize
            #expect(WordLog.stores(events[..<switchAt]) == Set((0..<8).map { other + 8 * $0 }))
            #expect(WordLog.undurable(events[..<switchAt]).isEmpty)
            #expect(Array(events[switchAt...]) == [.store(entry), .flush(entry / 64), .fence])
            #expect(slot() == 1 - inUse)
        }
        // A compare-and-set that fails, or changes nothing, stores nothing.
        let start = log.events.count
        #expect(try !table.compareAndSetRoot(id, expected: a, new: b).swapped)
        #expect(try table.compareAndSetRoot(id, expected: zero, new: zero).swapped)
        #expect(log.events.count == start)
    }

    @Test func aCreateCutShortBeforeItsCommitLeavesTheEntryFree() throws {
        let (region, layout, image, _) = try recordedImage()
        defer { withExtendedLifetime(region) {} }
        let table = try #require(image.owners)
        let lost = try table.create(name: "lost", lifetime: .persistent, quota: 9, uid: 1, gid: 2)
        // The media after a crash between the two fences: every field, but the state word free.
        (region.base + layout.ownerTableOffset).storeBytes(of: 0, as: UInt64.self)
        let again = try PoolImage.open(base: region.base, length: region.length, persistence: VolatilePersistence(), cores: 1, name: "image")
        let reopened = try #require(again.owners)
        #expect(reopened.count == 0 && reopened.owner(named: "lost") == nil)
        let next = try reopened.create(name: "next", lifetime: .ephemeral, quota: nil, uid: 0, gid: nil)
        #expect(next.id == lost.id && reopened.owner(next.id) == next)
    }

    @Test func aRootSwitchCutShortKeepsTheOldValue() throws {
        let (region, layout, image, _) = try recordedImage()
        defer { withExtendedLifetime(region) {} }
        let table = try #require(image.owners)
        let id = try table.create(name: "db", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        _ = try table.compareAndSetRoot(id, expected: zero, new: a)
        let state = region.base + layout.ownerTableOffset
        let before = state.load(as: UInt64.self)
        _ = try table.compareAndSetRoot(id, expected: a, new: b)
        // The media after a crash before the switch was durable: the new value in the other
        // slot, the state word as it was.
        state.storeBytes(of: before, as: UInt64.self)
        let again = try PoolImage.open(base: region.base, length: region.length, persistence: VolatilePersistence(), cores: 1, name: "image")
        #expect(try #require(again.owners).root(id) == a)
    }

    // MARK: Settling through the pool

    @Test(arguments: Leave.allCases)
    func persistentOwnersKeepTheirFramesAndEphemeralOnesLoseThem(leave: Leave) throws {
        let frames: UInt64 = 16 * 512
        let scratch = try formatted("settle", frames: frames); defer { scratch.remove() }
        let pool = try open(scratch)
        let image = try #require(pool.pmemImage)
        let table = try #require(image.owners)
        let kept = try table.create(name: "db", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        let lost = try table.create(name: "scratch", lifetime: .ephemeral, quota: nil, uid: 0, gid: nil).id
        let before = image.allocator
        var keptRuns: [OwnedRun] = []
        var lostRuns: [OwnedRun] = []
        for (i, order) in [0, 0, 3, 9, 10, 6].enumerated() {
            keptRuns.append(OwnedRun(frame: try before.get(order: order, core: i % 2, owner: kept), order: order))
        }
        for (i, order) in [0, 5, 9].enumerated() {
            lostRuns.append(OwnedRun(frame: try before.get(order: order, core: i % 2, owner: lost), order: order))
        }
        // One run given back before the crash is free afterwards too.
        let returned = keptRuns.remove(at: 1)
        try before.put(returned.frame, order: returned.order, core: 0, owner: kept)
        keptRuns.sort { $0.frame < $1.frame }
        let keptFrames = keptRuns.reduce(0) { $0 + 1 << $1.order }
        let lostFrames = lostRuns.reduce(0) { $0 + 1 << $1.order }
        #expect(before.held(by: kept) == keptFrames && before.held(by: lost) == lostFrames)
        try leave.apply(pool)

        let again = try open(scratch)
        defer { try? again.close() }
        #expect(again.report.wasDirty == (leave == .abandon))
        let after = try #require(again.pmemImage).allocator
        #expect(!after.isSettled, "with owners every tree starts unsettled")
        after.settleAll()
        #expect(after.isSettled)
        #expect(after.settleReport.keptRuns == keptRuns.count)
        #expect(after.settleReport.freedFrames == lostFrames)
        // The persistent owner holds exactly its runs, listed in frame order, page by page.
        #expect(after.held(by: kept) == keptFrames)
        let all = after.runs(of: kept, from: 0, limit: 100)
        #expect(all.runs == keptRuns && all.next == nil)
        let page = after.runs(of: kept, from: 0, limit: 2)
        #expect(page.runs == Array(keptRuns.prefix(2)))
        let next = try #require(page.next)
        let rest = after.runs(of: kept, from: next, limit: 100)
        #expect(rest.runs == Array(keptRuns.dropFirst(2)) && rest.next == nil)
        for run in keptRuns { #expect(try !after.isFree(run.frame, order: run.order), "\(run)") }
        // The ephemeral owner's frames were freed; the owner itself stays in the table.
        #expect(after.held(by: lost) == 0 && after.runs(of: lost, from: 0, limit: 100).runs.isEmpty)
        for run in lostRuns { #expect(try after.isFree(run.frame, order: run.order), "\(run)") }
        #expect(try after.isFree(returned.frame, order: returned.order))
        #expect(try self.table(again).owner(lost)?.lifetime == .ephemeral)
        #expect(after.freeFrames == Int(frames) - keptFrames)
        #expect(after.validate().isEmpty)
        // The kept runs are still the owner's: another owner's put is refused, its own succeeds.
        let run = keptRuns[0]
        #expect(throws: LLFreeError.notOwner(frame: run.frame, order: run.order)) {
            try after.put(run.frame, order: run.order, core: 0, owner: lost)
        }
        try after.put(run.frame, order: run.order, core: 0, owner: kept)
        #expect(after.held(by: kept) == keptFrames - 1 << run.order)
    }

    // MARK: Corrupt entries

    @Test(arguments: ["kind", "duplicate"])
    func aCorruptOwnerEntryIsRefusedAtOpenUnchanged(damage: String) throws {
        let scratch = try formatted("corrupt"); defer { scratch.remove() }
        let pool = try open(scratch)
        let header = pool.header
        let table = try table(pool)
        _ = try table.create(name: "a", lifetime: .persistent, quota: nil, uid: 0, gid: nil)
        _ = try table.create(name: "b", lifetime: .ephemeral, quota: nil, uid: 0, gid: nil)
        try pool.close()
        let second = UInt64(entryOffset(header, 2))
        let why: String
        switch damage {
        case "kind":
            // Kind 7 is neither persistent nor ephemeral.
            let word = try readWord(scratch.path, at: second)
            try patchWord(scratch.path, at: second, word & ~(0xFF << 8) | 7 << 8)
            why = "kind 7"
        default:
            // The second owner's name (one byte, like the first's) made equal to the first's.
            try patchWord(scratch.path, at: second + 64, UInt64(UInt8(ascii: "a")))
            why = "two live owners"
        }
        let before = try contents(scratch.path)
        let error = try #require(poolError { () throws(PoolError) in try open(scratch) })
        if case .corrupt(let text) = error.reason {
            #expect(text.contains("owner table entry 1") && text.contains(why), "\(text)")
        } else {
            Issue.record("\(error)")
        }
        #expect(error.unchanged && error.file == scratch.path)
        #expect(try contents(scratch.path) == before)
    }

    // MARK: Version 1

    @Test func aVersion1PoolOpensWithoutOwners() throws {
        let frames: UInt64 = 8 * 512
        let scratch = ScratchPath("version1"); defer { scratch.remove() }
        let header = try Pool.format(path: scratch.path, frames: frames, treeChildren: 4, ownerCapacity: nil, durability: .cpuCache).header
        #expect(header.version == 1 && header.layout.ownerCapacity == nil && header.layout.ownerTableLength == 0)
        #expect(try readWord(scratch.path, at: 8) == 1)
        let pool = try open(scratch)
        let image = try #require(pool.pmemImage)
        #expect(image.owners == nil && !image.allocator.hasOwners && image.header.version == 1)
        let before = image.allocator
        #expect(before.isSettled, "nothing to settle without owners")
        let small = try before.get(order: 0, core: 0)
        let huge = try before.get(order: 9, core: 1)
        let gone = try before.get(order: 3, core: 0)
        try before.put(gone, order: 3, core: 0)
        // An owner number is ignored: there are no tags to hold it.
        let ignored = try before.get(order: 0, core: 0, owner: 7)
        try before.put(ignored, order: 0, core: 1, owner: 9)
        #expect(before.held(by: 7) == 0)
        try pool.abandon()

        let again = try open(scratch)
        defer { try? again.close() }
        #expect(again.report.wasDirty && again.header.version == 1)
        let after = try #require(again.pmemImage).allocator
        #expect(try #require(again.pmemImage).owners == nil)
        #expect(try !after.isFree(small, order: 0) && !after.isFree(huge, order: 9) && after.isFree(gone, order: 3))
        #expect(after.freeFrames == Int(frames) - 513 && after.validate().isEmpty)
        try after.put(small, order: 0, core: 1)
        #expect(try after.isFree(small, order: 0))
    }
}
