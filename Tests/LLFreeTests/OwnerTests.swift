// The owner-tag feature of the core, as a specification: what a get tags, what a put checks,
// what a split leaves, what listing returns, which owners are refused, what settling keeps and
// frees after a reopen, how it holds up under threads, and that without owners nothing changed.

import Testing
import Foundation
import Atomics
@testable import LLFree

/// A volatile allocator with owner tags over its own aligned metadata region, which a second
/// allocator can reopen (recovery, then settling of the tags) as a pool would after a restart.
final class OwnedAllocator {
    let region: UnsafeMutableRawPointer
    let geometry: Geometry
    let cores: Int
    private(set) var llfree: LLFree<VolatilePersistence>
    var lower: Lower<VolatilePersistence> { llfree.lower }

    init(frames: UInt64, treeChildren: Int = 2, cores: Int = 1) throws {
        geometry = try Geometry(frames: frames, treeChildren: treeChildren, owners: true)
        self.cores = cores
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        region.initializeMemory(as: UInt8.self, repeating: 0xA5, count: geometry.metadataSize)
        let lower = Lower(geometry: geometry, region: region, persistence: VolatilePersistence())
        lower.format()
        llfree = try LLFree(lower: lower, cores: cores, settled: true)
    }

    /// Drops the current allocator and opens the region again: recovery of the bitfields and
    /// counters, then an allocator whose trees are all unsettled.
    @discardableResult
    func reopen(keep: (@Sendable (OwnerID) -> Bool)? = nil) throws -> LLFree<VolatilePersistence> {
        let lower = Lower(geometry: geometry, region: region, persistence: VolatilePersistence())
        _ = lower.recover()
        llfree = try LLFree(lower: lower, cores: cores, settled: false, keep: keep)
        return llfree
    }

    /// Every bitfield row, child entry, frame tag and huge tag: the whole persistent state.
    func snapshot() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: region, count: geometry.metadataSize))
    }

    /// Removes the tags of the run at `frame` (as if the get's tag lines never reached the media).
    func eraseTags(_ frame: UInt64, order: Int) {
        for f in frame..<(frame + (UInt64(1) << UInt64(order))) { lower.tagWord(Int(f)).store(0, ordering: .relaxed) }
    }

    deinit { region.deallocate() }
}

/// The allocator error a throwing call raised, or nil if it returned.
func caught(_ body: () throws -> Void) -> LLFreeError? {
    do { try body(); return nil } catch let error as LLFreeError { return error } catch {
        Issue.record("not an allocator error: \(error)")
        return nil
    }
}

func isInvalidArgument(_ error: LLFreeError?) -> Bool {
    if case .invalidArgument = error { return true }
    return false
}

@Suite struct OwnerTests {
    // MARK: Get tags

    @Test func getTagsTheHeadWithOwnerAndOrderAndTheRestAsInterior() throws {
        let a = try OwnedAllocator(frames: 4 * 512)
        let llfree = a.llfree
        let frame = try llfree.get(order: 3, core: 0, owner: 7)
        #expect(frame % 8 == 0)
        #expect(llfree.lower.frameTag(frame) == FrameTag(head: 7, order: 3))
        #expect(llfree.lower.frameTag(frame).isHead && llfree.lower.frameTag(frame).owner == 7 && llfree.lower.frameTag(frame).order == 3)
        for f in (frame + 1)..<(frame + 8) {
            #expect(llfree.lower.frameTag(f) == FrameTag(interior: 7), "frame \(f)")
            #expect(!llfree.lower.frameTag(f).isHead)
        }
        let single = try llfree.get(order: 0, core: 0, owner: 7)
        #expect(llfree.lower.frameTag(single) == FrameTag(head: 7, order: 0))
        #expect(llfree.held(by: 7) == 9, "held counts frames, not runs")
        #expect(llfree.held(by: 8) == 0)
        #expect(llfree.validate() == [])
    }

    @Test func hugeGetsTagTheFirstChildWithOwnerAndSpanAndNoFrameTags() throws {
        let a = try OwnedAllocator(frames: 8 * 512, treeChildren: 4)
        let llfree = a.llfree
        let huge = try llfree.get(order: 9, core: 0, kind: .huge, owner: 3)
        let child = Int(huge / 512)
        #expect(huge % 512 == 0)
        #expect(llfree.lower.child(child).huge)
        #expect(llfree.lower.hugeTag(child) == HugeTag(owner: 3, span: 0))
        let larger = try llfree.get(order: 10, core: 0, kind: .huge, owner: 4)
        let first = Int(larger / 512)
        #expect(first % 2 == 0)
        #expect(llfree.lower.hugeTag(first) == HugeTag(owner: 4, span: 1))
        #expect(llfree.lower.hugeTag(first + 1) == .none, "only the first child of a huge run is tagged")
        for f in [huge, huge + 511, larger, larger + 1023] { #expect(llfree.lower.frameTag(f) == .none, "frame \(f)") }
        // The kind is huge for orders >= 9 even when another is asked for.
        let third = try llfree.get(order: 9, core: 0, kind: .fixed, owner: 3)
        #expect(llfree.lower.hugeTag(Int(third / 512)) == HugeTag(owner: 3, span: 0))
        #expect(llfree.held(by: 3) == 1024)
        #expect(llfree.held(by: 4) == 1024)
        #expect(llfree.validate() == [])
    }

    @Test func batchGetTagsEveryRunAndCountsThemAll() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        let llfree = a.llfree
        var frames = [UInt64](repeating: 0, count: 5)
        let (count, error) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 2, core: 0, owner: 11, into: $0) }
        #expect(count == 5 && error == nil)
        for f in frames { #expect(llfree.lower.frameTag(f) == FrameTag(head: 11, order: 2)) }
        #expect(llfree.held(by: 11) == 20)
        let freed = frames.withUnsafeBufferPointer { llfree.put(frames: $0, order: 2, core: 0, owner: 11, failed: { i, e in Issue.record("run \(i): \(e)") }) }
        #expect(freed == 5)
        #expect(llfree.held(by: 11) == 0)
        #expect(llfree.freeFrames == 1024)
    }

    // MARK: Put checks the owner

    @Test func putByAnotherOwnerIsRefusedAndChangesNothing() throws {
        let a = try OwnedAllocator(frames: 4 * 512)
        let llfree = a.llfree
        let run = try llfree.get(order: 4, core: 0, owner: 1)
        let huge = try llfree.get(order: 9, core: 0, owner: 1)
        _ = try llfree.get(order: 0, core: 0, owner: 2)
        let before = a.snapshot()
        let free = llfree.freeFrames
        #expect(caught { try llfree.put(run, order: 4, core: 0, owner: 2) } == .notOwner(frame: run, order: 4))
        #expect(caught { try llfree.put(huge, order: 9, core: 0, owner: 2) } == .notOwner(frame: huge, order: 9))
        // Nor can another owner split the huge frame by putting part of it.
        #expect(caught { try llfree.put(huge + 8, order: 0, core: 0, owner: 2) } == .notOwner(frame: huge + 8, order: 0))
        #expect(a.snapshot() == before, "bits, entries and tags unchanged")
        #expect(llfree.freeFrames == free)
        #expect(llfree.held(by: 1) == 16 + 512)
        #expect(llfree.held(by: 2) == 1)
        #expect(llfree.lower.child(Int(huge / 512)).huge)
        #expect(llfree.validate() == [])
    }

    @Test func theOwnersOwnPutSucceedsAndClearsItsTags() throws {
        let a = try OwnedAllocator(frames: 4 * 512)
        let llfree = a.llfree
        let run = try llfree.get(order: 4, core: 0, owner: 1)
        let huge = try llfree.get(order: 9, core: 0, owner: 1)
        try llfree.put(run, order: 4, core: 0, owner: 1)
        for f in run..<(run + 16) { #expect(llfree.lower.frameTag(f) == .none) }
        #expect(try llfree.isFree(run, order: 4))
        try llfree.put(huge, order: 9, core: 0, owner: 1)
        #expect(llfree.lower.hugeTag(Int(huge / 512)) == .none)
        #expect(llfree.held(by: 1) == 0)
        #expect(llfree.freeFrames == 4 * 512)
        // A second put is a double free, not a question of owners.
        #expect(caught { try llfree.put(run, order: 4, core: 0, owner: 1) } == .notAllocated(frame: run, order: 4))
        #expect(caught { try llfree.put(huge, order: 9, core: 0, owner: 1) } == .notAllocated(frame: huge, order: 9))
        #expect(llfree.validate() == [])
    }

    @Test func putWithTheWrongOrderIsNotAllocatedEvenForTheOwner() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        let llfree = a.llfree
        let run = try llfree.get(order: 3, core: 0, owner: 1)
        let before = a.snapshot()
        #expect(caught { try llfree.put(run, order: 2, core: 0, owner: 1) } == .notAllocated(frame: run, order: 2))
        #expect(caught { try llfree.put(run + 4, order: 2, core: 0, owner: 1) } == .notAllocated(frame: run + 4, order: 2))
        #expect(caught { try llfree.put(run, order: 2, core: 0, owner: 2) } == .notAllocated(frame: run, order: 2))
        #expect(a.snapshot() == before)
        #expect(llfree.held(by: 1) == 8)
    }

    @Test func anAdministratorsPutFreesAnyOwnersRunAndUncountsTheHolder() throws {
        let a = try OwnedAllocator(frames: 4 * 512)
        let llfree = a.llfree
        let run = try llfree.get(order: 2, core: 0, owner: 5)
        let huge = try llfree.get(order: 9, core: 0, owner: 6)
        #expect(llfree.held(by: 5) == 4 && llfree.held(by: 6) == 512)
        try llfree.put(run, order: 2, core: 0, owner: Owners.any)
        #expect(llfree.held(by: 5) == 0)
        #expect(llfree.lower.frameTag(run) == .none)
        try llfree.put(huge, order: 9, core: 0, owner: Owners.any)
        #expect(llfree.held(by: 6) == 0)
        #expect(llfree.lower.hugeTag(Int(huge / 512)) == .none)
        #expect(llfree.freeFrames == 4 * 512)
        // An administrator's batch of several owners' runs uncounts each holder.
        let x = try llfree.get(order: 0, core: 0, owner: 5)
        let y = try llfree.get(order: 0, core: 0, owner: 6)
        let z = try llfree.get(order: 0, core: 0, owner: 5)
        let frames = [x, y, z]
        let freed = frames.withUnsafeBufferPointer { llfree.put(frames: $0, order: 0, core: 0, owner: Owners.any, failed: { i, e in Issue.record("run \(i): \(e)") }) }
        #expect(freed == 3)
        #expect(llfree.held(by: 5) == 0 && llfree.held(by: 6) == 0)
        #expect(llfree.validate() == [])
    }

    // MARK: Split

    @Test func puttingPartOfAHugeFrameLeavesTheRestOwnedByItsHolderAsRunsOfThatOrder() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        let llfree = a.llfree
        let huge = try llfree.get(order: 9, core: 0, owner: 9)
        let child = Int(huge / 512)
        try llfree.put(huge + 3, order: 0, core: 0, owner: 9)
        #expect(!llfree.lower.child(child).huge)
        #expect(llfree.lower.hugeTag(child) == .none, "the split clears the huge tag")
        #expect(llfree.lower.frameTag(huge + 3) == .none)
        for f in huge..<(huge + 512) where f != huge + 3 {
            #expect(llfree.lower.frameTag(f) == FrameTag(head: 9, order: 0), "frame \(f)")
        }
        #expect(llfree.held(by: 9) == 511)
        let listed = llfree.runs(of: 9, from: 0, limit: 1000)
        #expect(listed.next == nil)
        #expect(listed.runs == (huge..<(huge + 512)).filter { $0 != huge + 3 }.map { OwnedRun(frame: $0, order: 0) })
        // The remainder stays the holder's: others cannot put it, the holder can.
        #expect(caught { try llfree.put(huge + 4, order: 0, core: 0, owner: 8) } == .notOwner(frame: huge + 4, order: 0))
        try llfree.put(huge + 4, order: 0, core: 0, owner: 9)
        #expect(llfree.held(by: 9) == 510)
        #expect(llfree.validate() == [])
    }

    @Test func aSplitByALargerOrderLeavesRunsOfThatOrder() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        let llfree = a.llfree
        let huge = try llfree.get(order: 9, core: 0, owner: 9)
        try llfree.put(huge + 64, order: 3, core: 0, owner: 9)
        for f in stride(from: huge, to: huge + 512, by: 8) where f != huge + 64 {
            #expect(llfree.lower.frameTag(f) == FrameTag(head: 9, order: 3), "frame \(f)")
            #expect(llfree.lower.frameTag(f + 7) == FrameTag(interior: 9), "frame \(f + 7)")
        }
        #expect(llfree.held(by: 9) == 504)
        #expect(llfree.runs(of: 9, from: 0, limit: 100).runs.count == 63)
        // The rest is held as order-3 runs: an order-0 put of one of their frames is refused.
        #expect(caught { try llfree.put(huge, order: 0, core: 0, owner: 9) } == .notAllocated(frame: huge, order: 0))
        #expect(caught { try llfree.put(huge + 1, order: 0, core: 0, owner: 9) } == .notAllocated(frame: huge + 1, order: 0))
        try llfree.put(huge, order: 3, core: 0, owner: 9)
        #expect(llfree.held(by: 9) == 496)
        #expect(llfree.validate() == [])
    }

    @Test func partOfAHugeRunOfSeveralChildrenCannotBePut() throws {
        let a = try OwnedAllocator(frames: 4 * 512, treeChildren: 4)
        let llfree = a.llfree
        let run = try llfree.get(order: 10, core: 0, owner: 2)
        let before = a.snapshot()
        #expect(caught { try llfree.put(run + 512, order: 9, core: 0, owner: 2) } == .notAllocated(frame: run + 512, order: 9))
        #expect(caught { try llfree.put(run, order: 9, core: 0, owner: 2) } == .notAllocated(frame: run, order: 9))
        #expect(caught { try llfree.put(run + 5, order: 0, core: 0, owner: 2) } == .notAllocated(frame: run + 5, order: 0))
        #expect(a.snapshot() == before)
        #expect(llfree.held(by: 2) == 1024)
    }

    // MARK: Listing

    @Test func runsListsExactlyTheOwnersRunsInFrameOrderAndPaginates() throws {
        let a = try OwnedAllocator(frames: 8 * 512, treeChildren: 4)
        let llfree = a.llfree
        var mine: [OwnedRun] = []
        var rng = SeededRandom(seed: 42)
        for i in 0..<40 {
            let order = [0, 0, 1, 2, 5, 9][Int.random(in: 0..<6, using: &rng)]
            let owner: OwnerID = i % 3 == 0 ? 2 : 1
            let frame = try llfree.get(order: order, core: 0, owner: owner)
            if owner == 1 { mine.append(OwnedRun(frame: frame, order: order)) }
        }
        mine.sort { $0.frame < $1.frame }
        let all = llfree.runs(of: 1, from: 0, limit: 1000)
        #expect(all.runs == mine)
        #expect(all.next == nil)
        #expect(llfree.held(by: 1) == mine.reduce(0) { $0 + (1 << $1.order) })
        // Pages of 3: each full until the last, the next page starting where the last stopped.
        var pages: [[OwnedRun]] = []
        var from: UInt64? = 0
        while let f = from {
            let page = llfree.runs(of: 1, from: f, limit: 3)
            pages.append(page.runs)
            if let next = page.next {
                #expect(page.runs.count == 3)
                #expect(page.runs.last!.frame < next)
                #expect(next <= mine.first { $0.frame > page.runs.last!.frame }!.frame)
            }
            from = page.next
            if pages.count > mine.count { Issue.record("pagination does not end"); break }
        }
        #expect(pages.count == (mine.count + 2) / 3)
        #expect(pages.flatMap { $0 } == mine)
        // Other owners' runs are not listed; an owner without runs gets nothing.
        let theirs = llfree.runs(of: 2, from: 0, limit: 1000).runs
        #expect(!theirs.isEmpty)
        #expect(Set(theirs.map(\.frame)).isDisjoint(with: mine.map(\.frame)))
        let none = llfree.runs(of: 3, from: 0, limit: 10)
        #expect(none.runs.isEmpty && none.next == nil)
        // Freed runs leave the list.
        try llfree.put(mine[0].frame, order: mine[0].order, core: 0, owner: 1)
        #expect(llfree.runs(of: 1, from: 0, limit: 1000).runs == Array(mine.dropFirst()))
    }

    @Test func runsFromTheMiddleStartsThere() throws {
        let a = try OwnedAllocator(frames: 4 * 512)
        let llfree = a.llfree
        for f: UInt64 in [0, 8, 16, 600] { try llfree.get(at: f, order: 3, core: 0, owner: 1) }
        try llfree.get(at: 1024, order: 9, core: 0, owner: 1)
        #expect(llfree.runs(of: 1, from: 9, limit: 10).runs == [OwnedRun(frame: 16, order: 3), OwnedRun(frame: 600, order: 3), OwnedRun(frame: 1024, order: 9)])
        #expect(llfree.runs(of: 1, from: 1024, limit: 10).runs == [OwnedRun(frame: 1024, order: 9)])
        #expect(llfree.runs(of: 1, from: 1025, limit: 10).runs == [])
        let page = llfree.runs(of: 1, from: 0, limit: 4)
        #expect(page.runs.count == 4 && page.next == 1024)
    }

    // MARK: Owner numbers

    @Test func getRefusesOwnerZeroAndOwnersAboveTheMaximum() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        let llfree = a.llfree
        #expect(llfree.hasOwners)
        for owner in [Owners.any, Owners.maxOwner + 1, OwnerID.max] {
            #expect(isInvalidArgument(caught { _ = try llfree.get(order: 0, core: 0, owner: owner) }), "owner \(owner)")
            #expect(isInvalidArgument(caught { try llfree.get(at: 0, order: 0, core: 0, owner: owner) }), "owner \(owner)")
            var frames = [UInt64](repeating: 0, count: 2)
            let (count, error) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, owner: owner, into: $0) }
            #expect(count == 0 && isInvalidArgument(error), "owner \(owner)")
        }
        #expect(isInvalidArgument(caught { _ = try llfree.get(order: 0, core: 0) }), "the default owner is none")
        #expect(llfree.freeFrames == 1024, "nothing was allocated")
        // The limits themselves are accepted.
        let low = try llfree.get(order: 0, core: 0, owner: 1)
        let high = try llfree.get(order: 0, core: 0, owner: Owners.maxOwner)
        #expect(llfree.lower.frameTag(low).owner == 1)
        #expect(llfree.lower.frameTag(high).owner == Owners.maxOwner)
        #expect(llfree.held(by: Owners.maxOwner) == 1)
        #expect(llfree.held(by: Owners.maxOwner + 1) == 0)
    }

    // MARK: Settling

    /// Builds one of each durable state by hand: a tagged run of owner 1 (kept), a tagged huge
    /// frame of owner 2 (kept), a run with no tags (an unacknowledged get: freed), a run whose
    /// tags are incomplete (freed), an untagged huge frame (freed), and a stray tag on a free
    /// frame (cleared).
    func buildStates() throws -> OwnedAllocator {
        let a = try OwnedAllocator(frames: 4 * 512, treeChildren: 2)
        let llfree = a.llfree
        try llfree.get(at: 0, order: 3, core: 0, owner: 1)
        try llfree.get(at: 16, order: 2, core: 0, owner: 1)
        a.eraseTags(16, order: 2)
        try llfree.get(at: 32, order: 2, core: 0, owner: 1)
        a.eraseTags(34, order: 0)
        a.lower.tagWord(100).store(FrameTag(head: 3, order: 0).raw, ordering: .relaxed)
        try llfree.get(at: 512, order: 9, core: 0, owner: 2)
        try llfree.get(at: 1024, order: 9, core: 0, owner: 2)
        a.lower.hugeTagWord(2).store(0, ordering: .relaxed)
        return a
    }

    @Test func settlingKeepsTaggedRunsFreesUntaggedOnesAndClearsStrayTags() throws {
        let a = try buildStates()
        let llfree = try a.reopen()
        #expect(!llfree.isSettled)
        llfree.settleAll()
        #expect(llfree.isSettled)
        var expected = SettleReport()
        expected.keptRuns = 2
        expected.freedFrames = 4 + 4 + 512
        expected.freedRuns = 2  // child 0 and the huge frame at child 2
        expected.clearedTags = 1 + 3  // the stray tag and what was left of the incomplete run's
        #expect(llfree.settleReport == expected)
        #expect(llfree.held(by: 1) == 8)
        #expect(llfree.held(by: 2) == 512)
        #expect(llfree.held(by: 3) == 0)
        #expect(try llfree.isFree(16, order: 2))
        #expect(try llfree.isFree(32, order: 2))
        #expect(try llfree.isFree(1024, order: 9))
        #expect(!llfree.lower.child(2).huge)
        #expect(llfree.lower.frameTag(100) == .none)
        for f: UInt64 in 32..<36 { #expect(llfree.lower.frameTag(f) == .none) }
        #expect(llfree.lower.frameTag(0) == FrameTag(head: 1, order: 3))
        #expect(llfree.lower.hugeTag(1) == HugeTag(owner: 2, span: 0))
        #expect(llfree.freeFrames == 4 * 512 - 8 - 512)
        #expect(llfree.runs(of: 1, from: 0, limit: 10).runs == [OwnedRun(frame: 0, order: 3)])
        #expect(llfree.runs(of: 2, from: 0, limit: 10).runs == [OwnedRun(frame: 512, order: 9)])
        #expect(llfree.validate() == [])
        // The kept runs are still their owners'.
        #expect(caught { try llfree.put(0, order: 3, core: 0, owner: 2) } == .notOwner(frame: 0, order: 3))
        try llfree.put(0, order: 3, core: 0, owner: 1)
        #expect(llfree.held(by: 1) == 0)
    }

    @Test func settlingTwiceGivesTheSameState() throws {
        let a = try buildStates()
        let first = try a.reopen()
        first.settleAll()
        let after = a.snapshot()
        let second = try a.reopen()
        second.settleAll()
        var expected = SettleReport()
        expected.keptRuns = 2
        #expect(second.settleReport == expected, "nothing left to free or clear")
        #expect(a.snapshot() == after)
        #expect(second.held(by: 1) == 8)
        #expect(second.held(by: 2) == 512)
        #expect(second.freeFrames == 4 * 512 - 8 - 512)
        #expect(second.validate() == [])
    }

    @Test func aTreeSettlesOnFirstUseByGetOrPut() throws {
        let a = try buildStates()
        let llfree = try a.reopen()
        // A put into tree 0 settles it (and only it) before it frees.
        try llfree.put(0, order: 3, core: 0, owner: 1)
        #expect(!llfree.isSettled)
        #expect(llfree.settleReport.freedFrames == 8)
        #expect(llfree.held(by: 1) == 0)
        // A put of a run settling freed is a double free.
        #expect(caught { try llfree.put(16, order: 2, core: 0, owner: 1) } == .notAllocated(frame: 16, order: 2))
        // settleNext settles the rest, then says none is left.
        while llfree.settleNext() {}
        #expect(llfree.isSettled)
        #expect(llfree.held(by: 2) == 512)
        #expect(llfree.validate() == [])
    }

    @Test func settlingFreesTheRunsOfOwnersThatAreNotKept() throws {
        let a = try buildStates()
        try a.llfree.get(at: 1536, order: 9, core: 0, owner: 1)
        try a.llfree.get(at: 64, order: 0, core: 0, owner: 2)
        let llfree = try a.reopen(keep: { $0 != 1 })
        llfree.settleAll()
        #expect(llfree.held(by: 1) == 0)
        #expect(llfree.held(by: 2) == 512 + 1)
        #expect(llfree.runs(of: 1, from: 0, limit: 10).runs == [])
        #expect(llfree.runs(of: 2, from: 0, limit: 10).runs == [OwnedRun(frame: 64, order: 0), OwnedRun(frame: 512, order: 9)])
        #expect(try llfree.isFree(0, order: 3))
        #expect(try llfree.isFree(1536, order: 9))
        for f: UInt64 in 0..<8 { #expect(llfree.lower.frameTag(f) == .none) }
        #expect(llfree.lower.hugeTag(3) == .none)
        let report = llfree.settleReport
        #expect(report.keptRuns == 2)
        #expect(report.freedFrames == 8 + 4 + 4 + 512 + 512)
        #expect(report.clearedTags == 8 + 1 + 3)
        #expect(llfree.freeFrames == 4 * 512 - 513)
        #expect(llfree.validate() == [])
        // Reopening with every owner kept finds nothing more to do: owner 1's runs stay freed.
        let again = try a.reopen()
        again.settleAll()
        #expect(again.settleReport.freedFrames == 0 && again.settleReport.clearedTags == 0)
        #expect(again.held(by: 1) == 0 && again.held(by: 2) == 513)
    }

    @Test func keepingNoOwnerFreesEverything() throws {
        let a = try buildStates()
        let llfree = try a.reopen(keep: { _ in false })
        llfree.settleAll()
        #expect(llfree.settleReport.keptRuns == 0)
        #expect(llfree.freeFrames == 4 * 512)
        #expect(llfree.held(by: 1) == 0 && llfree.held(by: 2) == 0)
        #expect(llfree.lower.runs(owner: Owners.any, from: 0, limit: 10).runs.isEmpty)
        #expect(llfree.validate() == [])
        // A full allocator can be taken again at once.
        let frame = try llfree.get(order: 10, core: 0, owner: 4)
        #expect(llfree.held(by: 4) == 1024 && frame % 1024 == 0)
    }

    @Test func aSplitCutShortKeepsTheHugeFrame() throws {
        let a = try OwnedAllocator(frames: 2 * 512)
        try a.llfree.get(at: 0, order: 9, core: 0, owner: 6)
        // The durable state after step (1) of a split: the huge tag says "being split".
        a.lower.hugeTagWord(0).store(HugeTag(owner: 6, span: HugeTag.splittingSpan).raw, ordering: .relaxed)
        let llfree = try a.reopen()
        llfree.settleAll()
        #expect(llfree.lower.hugeTag(0) == HugeTag(owner: 6, span: 0), "normalised to one huge frame")
        #expect(llfree.lower.child(0).huge)
        #expect(llfree.held(by: 6) == 512)
        #expect(llfree.settleReport.keptRuns == 1)
        try llfree.put(0, order: 9, core: 0, owner: 6)
        #expect(llfree.held(by: 6) == 0)
        #expect(llfree.validate() == [])
    }

    // MARK: Threads

    @Test(arguments: [2, 4])
    func threadsOfDifferentOwnersKeepExactAccounts(threads: Int) throws {
        let a = try OwnedAllocator(frames: 16 * 4 * 512, treeChildren: 4, cores: threads)
        let llfree = a.llfree
        let failures = ResultBox()
        let orders = [0, 0, 0, 1, 2, 3, 5, 9]
        let iterations = 6000 / threads
        let holdings = HoldingsBox(threads: threads)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let owner = OwnerID(t + 1)
            var rng = SeededRandom(seed: UInt64(t) * 7 + 3)
            var mine: [(UInt64, Int)] = []
            for i in 0..<iterations {
                if Int.random(in: 0..<100, using: &rng) < 55 || mine.isEmpty {
                    let order = orders[Int.random(in: 0..<orders.count, using: &rng)]
                    do throws(LLFreeError) {
                        mine.append((try llfree.get(order: order, core: t, owner: owner), order))
                    } catch {
                        if error != .outOfMemory(order: order) { failures.add("thread \(t) step \(i): get: \(error)") }
                    }
                } else {
                    let k = Int.random(in: 0..<mine.count, using: &rng)
                    let (frame, order) = mine[k]
                    // Sometimes put one frame of a huge frame: the rest stays ours, as order-0 runs.
                    if order == 9 && Bool.random(using: &rng) {
                        let part = frame + UInt64.random(in: 0..<512, using: &rng)
                        do throws(LLFreeError) {
                            try llfree.put(part, order: 0, core: t, owner: owner)
                            mine.remove(at: k)
                            for f in frame..<(frame + 512) where f != part { mine.append((f, 0)) }
                        } catch { failures.add("thread \(t) step \(i): split put: \(error)") }
                        continue
                    }
                    do throws(LLFreeError) {
                        try llfree.put(frame, order: order, core: t, owner: owner)
                        mine.remove(at: k)
                    } catch { failures.add("thread \(t) step \(i): put: \(error)") }
                }
            }
            holdings.set(t, mine)
        }
        #expect(failures.errors == [])
        #expect(llfree.validate() == [])
        var total = 0
        for t in 0..<threads {
            let owner = OwnerID(t + 1)
            let mine = holdings.get(t).sorted { $0.0 < $1.0 }
            let frames = mine.reduce(0) { $0 + (1 << $1.1) }
            total += frames
            #expect(llfree.held(by: owner) == frames, "owner \(owner)")
            let listed = llfree.runs(of: owner, from: 0, limit: Int.max)
            #expect(listed.next == nil)
            #expect(listed.runs == mine.map { OwnedRun(frame: $0.0, order: $0.1) }, "owner \(owner)")
        }
        #expect(llfree.freeFrames == 16 * 4 * 512 - total)
        // Everything put back by an administrator: nobody holds anything.
        for t in 0..<threads {
            for (frame, order) in holdings.get(t) { try llfree.put(frame, order: order, core: 0, owner: Owners.any) }
            #expect(llfree.held(by: OwnerID(t + 1)) == 0)
        }
        #expect(llfree.freeFrames == 16 * 4 * 512)
        #expect(llfree.validate() == [])
    }

    /// A put by another owner is refused without disturbing the holder: while one thread keeps
    /// putting part of a huge frame it does not hold, the holder's get and put of that frame
    /// never fail.
    @Test func aRefusedPutDoesNotDisturbTheHoldersPut() throws {
        let a = try OwnedAllocator(frames: 512, treeChildren: 1, cores: 2)
        let llfree = a.llfree
        let failures = ResultBox()
        let done = ManagedAtomic<Bool>(false)
        let rounds = 20_000
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            if t == 0 {
                defer { done.store(true, ordering: .releasing) }
                for i in 0..<rounds {
                    do throws(LLFreeError) {
                        let frame = try llfree.get(order: 9, core: 0, owner: 1)
                        try llfree.put(frame, order: 9, core: 0, owner: 1)
                    } catch { failures.add("holder, round \(i): \(error)"); return }
                }
            } else {
                while !done.load(ordering: .acquiring) {
                    do throws(LLFreeError) {
                        try llfree.put(5, order: 0, core: 1, owner: 2)
                        failures.add("a put by owner 2 of owner 1's frame succeeded")
                        return
                    } catch {
                        if error != .notOwner(frame: 5, order: 0) && error != .notAllocated(frame: 5, order: 0) {
                            failures.add("intruder: \(error)")
                        }
                    }
                }
            }
        }
        #expect(failures.errors == [])
        #expect(llfree.held(by: 1) == 0 && llfree.held(by: 2) == 0)
        #expect(llfree.freeFrames == 512)
        #expect(llfree.validate() == [])
    }

    // MARK: Without owners

    @Test func withoutOwnersGetAndPutBehaveAsBefore() throws {
        let a = try TestAllocator(frames: 4 * 512, treeChildren: 2)
        let llfree = a.llfree
        #expect(!llfree.hasOwners)
        #expect(try Geometry(frames: 4 * 512, owners: false).metadataSize < Geometry(frames: 4 * 512, owners: true).metadataSize)
        let run = try llfree.get(order: 3, core: 0)
        let huge = try llfree.get(order: 9, core: 0)
        #expect(llfree.lower.frameTag(run) == .none)
        #expect(llfree.lower.hugeTag(Int(huge / 512)) == .none)
        #expect(llfree.held(by: 1) == 0)
        #expect(llfree.freeFrames == 4 * 512 - 8 - 512)
        // Owner numbers are ignored: any put frees, any owner number is accepted.
        try llfree.put(run, order: 3, core: 0, owner: 5)
        let other = try llfree.get(order: 0, core: 0, owner: Owners.maxOwner + 1)
        try llfree.put(other, order: 0, core: 0)
        try llfree.put(huge + 1, order: 0, core: 0)
        try llfree.put(huge, order: 0, core: 0, owner: 3)
        #expect(caught { try llfree.put(run, order: 3, core: 0) } == .notAllocated(frame: run, order: 3))
        #expect(llfree.freeFrames == 4 * 512 - 510)
        #expect(llfree.runs(of: 1, from: 0, limit: 10).runs.isEmpty)
        #expect(llfree.isSettled)
        #expect(llfree.validate() == [])
    }
}

/// What each thread holds at the end.
final class HoldingsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lists: [[(UInt64, Int)]]
    init(threads: Int) { lists = Array(repeating: [], count: threads) }
    func set(_ t: Int, _ list: [(UInt64, Int)]) { lock.lock(); lists[t] = list; lock.unlock() }
    func get(_ t: Int) -> [(UInt64, Int)] { lock.lock(); defer { lock.unlock() }; return lists[t] }
}
