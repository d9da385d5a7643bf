// The bulk path of the core, as a specification: a batch get of order-0 frames takes up to 64
// of them from one bitfield row with one compare-and-swap and the child counter with one update,
// a batch put frees the frames of one row with one; each is one fence; the results (frames,
// refusals, owner tags, counters) are those of the frame-by-frame path.

import Testing
@testable import LLFree

/// Counts stores per kind of line and fences (what the bulk path promises to save).
final class StoreCounter: Persistence, @unchecked Sendable {
    var truthStores = 0
    var counterStores = 0
    var fences = 0
    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) { if truth { truthStores += 1 } else { counterStores += 1 } }
    func flush(_ address: UnsafeMutableRawPointer) {}
    func fence() { fences += 1 }
    func zero(frame: UInt64, count: Int) -> Bool { false }
}

@Suite struct BulkTests {
    /// An allocator with owner tags (or without) over `persistence`.
    static func make<P: Persistence>(_ persistence: P, frames: UInt64 = 1 << 15, owners: Bool, cores: Int = 1) throws
        -> (LLFree<P>, UnsafeMutableRawPointer) {
        let geometry = try Geometry(frames: frames, treeChildren: 8, owners: owners)
        let region = UnsafeMutableRawPointer.allocate(byteCount: geometry.metadataSize, alignment: 64)
        let lower = Lower(geometry: geometry, region: region, persistence: persistence)
        lower.format()
        return (try LLFree(lower: lower, cores: cores, settled: true), region)
    }

    @Test func aBatchOf64TakesOneRowWithOneSwapAndTheCounterWithOneUpdate() throws {
        let counter = StoreCounter()
        let (llfree, region) = try Self.make(counter, owners: false)
        defer { region.deallocate() }
        // Warm up: the first get reserves a tree.
        var one: UInt64 = 0
        _ = withUnsafeMutablePointer(to: &one) { llfree.get(order: 0, core: 0, into: UnsafeMutableBufferPointer(start: $0, count: 1)) }
        var frames = [UInt64](repeating: 0, count: 64)
        // Row 1 of the child is free and row 0 has its first bit taken: the batch fills what row 0
        // has left (63) and takes 1 of row 1: two swaps, one counter update, one fence.
        counter.truthStores = 0; counter.counterStores = 0; counter.fences = 0
        let (n, error) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, into: $0) }
        #expect(n == 64 && error == nil)
        #expect(counter.truthStores == 2, "bitfield row swaps")
        #expect(counter.counterStores == 1, "child counter updates")
        #expect(counter.fences == 1)
        #expect(Set(frames + [one]).count == 65)
        for f in frames { #expect(!(try llfree.isFree(f, order: 0))) }
        // The next 64 come from one row with one swap.
        counter.truthStores = 0; counter.counterStores = 0
        var more = [UInt64](repeating: 0, count: 63)
        _ = more.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, into: $0) }
        #expect(counter.truthStores == 1 && counter.counterStores == 1)
        // A put of the frames of one row: one swap, one counter update, one fence.
        counter.truthStores = 0; counter.counterStores = 0; counter.fences = 0
        let freed = more.withUnsafeBufferPointer { llfree.put(frames: $0, order: 0, core: 0) { i, e in Issue.record("refused \(i): \(e)") } }
        #expect(freed == 63)
        #expect(counter.truthStores == 1 && counter.counterStores == 1 && counter.fences == 1)
        #expect(llfree.validate().isEmpty)
    }

    @Test func batchesKeepOwnersCountersAndRefusalsAsFrameByFrame() throws {
        for bulkPath in [true, false] {
            var rng = SeededRandom(seed: 12)
            let (llfree, region) = try Self.make(VolatilePersistence(), owners: true)
            defer { region.deallocate() }
            var held: [OwnerID: [UInt64]] = [1: [], 2: [], 3: []]
            for round in 0..<150 {
                let owner = OwnerID(1 + round % 3)
                let count = Int.random(in: 1...700, using: &rng)
                var got = [UInt64](repeating: 0, count: count)
                let (n, _) = got.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, owner: owner, into: $0, bulk: bulkPath) }
                held[owner]! += got.prefix(n)
                let all = held.values.flatMap { $0 }
                #expect(Set(all).count == all.count, "a frame handed out twice")
                // Put back a random part, naming one frame twice and one of another owner's.
                held[owner]!.shuffle(using: &rng)
                let k = Int.random(in: 0...min(held[owner]!.count, 600), using: &rng)
                var put = Array(held[owner]!.prefix(k))
                held[owner]!.removeFirst(k)
                var refused: Set<Int> = []
                if let first = put.first { put.append(first); refused.insert(put.count - 1) }
                let other = OwnerID(1 + (round + 1) % 3)
                if let foreign = held[other]!.first {
                    let at = put.count / 2
                    put.insert(foreign, at: at)
                    refused = Set(refused.map { $0 >= at ? $0 + 1 : $0 })
                    refused.insert(at)
                }
                var failed: [Int: LLFreeError] = [:]
                let freed = put.withUnsafeBufferPointer {
                    llfree.put(frames: $0, order: 0, core: 0, owner: owner, waiting: Yielding(), bulk: bulkPath) { i, e in failed[i] = e }
                }
                #expect(Set(failed.keys) == refused, "bulk \(bulkPath): refused \(failed.keys.sorted()), expected \(refused.sorted())")
                #expect(freed + failed.count == put.count)
            }
            #expect(llfree.validate().isEmpty, "\(llfree.validate())")
            for (owner, frames) in held {
                #expect(llfree.held(by: owner) == frames.count)
                let runs = llfree.runs(of: owner, from: 0, limit: 1 << 20).runs
                #expect(Set(runs.map(\.frame)) == Set(frames) && runs.allSatisfy { $0.order == 0 })
            }
        }
    }

    /// Four consecutive frames from a multiple of 4 have their tags in one word, claimed with one
    /// compare-and-swap: with the same results as frame by frame. A quad with a frame of another
    /// owner, or named twice, falls back to frame-by-frame claims and refuses just that frame; an
    /// administrator's put frees a quad of several owners and counts each owner's share.
    @Test func aQuadOfTagsIsClaimedAtOnceWithTheSameRefusalsAsFrameByFrame() throws {
        let counter = StoreCounter()
        let (llfree, region) = try Self.make(counter, owners: true)
        defer { region.deallocate() }
        func get(_ owner: OwnerID, _ count: Int) -> [UInt64] {
            var frames = [UInt64](repeating: 0, count: count)
            let (n, _) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, owner: owner, into: $0) }
            return Array(frames.prefix(n))
        }
        func put(_ frames: [UInt64], _ owner: OwnerID) -> (freed: Int, failed: [Int: LLFreeError]) {
            var failed: [Int: LLFreeError] = [:]
            let freed = frames.withUnsafeBufferPointer { llfree.put(frames: $0, order: 0, core: 0, owner: owner) { i, e in failed[i] = e } }
            return (freed, failed)
        }
        let a = get(1, 16)
        #expect(a == (a.first!..<a.first! + 16).map { $0 } && a.first! % 4 == 0, "a fresh row hands out consecutive frames")
        // Owner 2 may not free owner 1's quad: every frame refused, nothing changed.
        let foreign = put(Array(a[0..<4]), 2)
        #expect(foreign.freed == 0 && llfree.held(by: 1) == 16)
        #expect(foreign.failed == [0: .notOwner(frame: a[0], order: 0), 1: .notOwner(frame: a[1], order: 0),
                                   2: .notOwner(frame: a[2], order: 0), 3: .notOwner(frame: a[3], order: 0)])
        // A quad, then one of its frames again: the quad is freed at once, the repeat refused.
        counter.truthStores = 0
        let again = put(Array(a[0..<4]) + [a[1]], 1)
        #expect(again.freed == 4 && Set(again.failed.keys) == [4])
        #expect(counter.truthStores == 4 + 1, "four tag stores (one swap) and one bitfield row")
        // A quad with a frame someone else holds in it: the other three are freed.
        let b = get(2, 4)
        var mixed = Array(a[4..<8])
        mixed[2] = b[0]
        let partly = put(mixed, 1)
        #expect(partly.freed == 3 && Set(partly.failed.keys) == [2])
        // An administrator's put of a quad held by two owners counts each owner's share.
        let x = a.first! + 128  // a row nothing has reached yet
        let quad = [x, x + 1, x + 2, x + 3]
        for (i, f) in quad.enumerated() { try llfree.get(at: f, order: 0, core: 0, owner: i < 2 ? 1 : 2) }
        let held1 = llfree.held(by: 1), held2 = llfree.held(by: 2)
        let admin = put(quad, Owners.any)
        #expect(admin.freed == 4 && admin.failed.isEmpty)
        #expect(llfree.held(by: 1) == held1 - 2 && llfree.held(by: 2) == held2 - 2)
        #expect(llfree.validate().isEmpty, "\(llfree.validate())")
    }

    @Test func aBatchLargerThanThePoolGetsWhatThereIsAndSaysWhy() throws {
        let (llfree, region) = try Self.make(VolatilePersistence(), frames: 1000, owners: false, cores: 2)
        defer { region.deallocate() }
        var frames = [UInt64](repeating: 0, count: 1200)
        let (n, error) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 1, into: $0) }
        #expect(n == 1000 && error == .outOfMemory(order: 0))
        #expect(Set(frames.prefix(n)).count == 1000 && frames.prefix(n).allSatisfy { $0 < 1000 })
        let freed = frames.withUnsafeBufferPointer { llfree.put(frames: UnsafeBufferPointer(rebasing: $0[0..<n]), order: 0, core: 0) { _, _ in } }
        #expect(freed == 1000 && llfree.freeFrames == 1000 && llfree.validate().isEmpty)
    }
}
