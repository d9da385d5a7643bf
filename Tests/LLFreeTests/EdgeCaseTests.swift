// The cases the C reference gets wrong, and exhaustion to exactly zero with every order.

import Testing
import Foundation
@testable import LLFree

@Suite struct EdgeCaseTests {
    @Test func order10WhileOneFrameOfTheFirstChildIsTaken() throws {
        // Two trees of 2 children: order 10 needs one whole tree.
        let a = try TestAllocator(frames: 4 * 512, treeChildren: 2, cores: 1)
        let llfree = a.llfree
        try llfree.get(at: 0, order: 0, core: 0)
        let frame = try llfree.get(order: 10, core: 0)
        #expect(frame == 1024, "the only free order-10 run is the second tree")
        #expect(llfree.validate() == [])
        // Now no order-10 run is left: a clean failure, nothing leaked.
        #expect(throws: LLFreeError.outOfMemory(order: 10)) { try llfree.get(order: 10, core: 0) }
        #expect(llfree.validate() == [])
        #expect(llfree.freeFrames == 4 * 512 - 1 - 1024)
        try llfree.put(0, order: 0, core: 0)
        try llfree.put(frame, order: 10, core: 0)
        #expect(llfree.freeFrames == 4 * 512)
        #expect(try llfree.get(order: 10, core: 0) % 1024 == 0)
        #expect(llfree.validate() == [])
    }

    @Test func order10FailsCleanlyWhenEveryGroupHasOneFrameTaken() throws {
        let a = try TestAllocator(frames: 8 * 512, treeChildren: 8, cores: 1)
        let llfree = a.llfree
        for c in stride(from: 0, to: 8, by: 2) { try llfree.get(at: UInt64(c * 512 + 5), order: 0, core: 0) }
        #expect(throws: LLFreeError.outOfMemory(order: 10)) { try llfree.get(order: 10, core: 0) }
        #expect(llfree.validate() == [])
        for c in 0..<8 { #expect(!llfree.lower.child(c).huge) }
        // Order 9 still works, in the odd children.
        #expect(try llfree.get(order: 9, core: 0) / 512 % 2 == 1)
    }

    @Test func order8PutOfAPartlyAllocatedRangeIsRefused() throws {
        let a = try TestAllocator(frames: 4 * 512, treeChildren: 4, cores: 1)
        let llfree = a.llfree
        // 255 of the 256 frames at 256 are allocated.
        for f in 256..<511 { try llfree.get(at: UInt64(f), order: 0, core: 0) }
        let rows = (0..<8).map { llfree.lower.bitfield(0).row($0).load(ordering: .relaxed) }
        #expect(throws: LLFreeError.notAllocated(frame: 256, order: 8)) { try llfree.put(256, order: 8, core: 0) }
        #expect((0..<8).map { llfree.lower.bitfield(0).row($0).load(ordering: .relaxed) } == rows)
        #expect(llfree.validate() == [])
        // Once the run is whole, the order-8 put of it works (frames are not tagged by order).
        try llfree.get(at: 511, order: 0, core: 0)
        try llfree.put(256, order: 8, core: 0)
        #expect(llfree.freeFrames == 4 * 512)
    }

    @Test func twoThreadsSplitOneHugeFrameAtOnce() throws {
        for round in 0..<200 {
            let a = try TestAllocator(frames: 2 * 512, treeChildren: 2, cores: 2)
            let llfree = a.llfree
            let huge = try llfree.get(order: 9, core: 0)
            let results = ResultBox()
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for t in 0..<2 {
                DispatchQueue.global().async(group: group) {
                    start.wait()
                    do { try llfree.put(huge + UInt64(t * 7 + 1), order: 0, core: t) } catch { results.add("\(error)") }
                }
            }
            start.signal(); start.signal()
            group.wait()
            #expect(results.errors == [], "round \(round)")
            #expect(llfree.validate() == [], "round \(round)")
            #expect(llfree.freeFrames == 2 * 512 - 510)
            #expect(try llfree.isFree(huge + 1, order: 0) && llfree.isFree(huge + 8, order: 0))
            #expect(try !llfree.isFree(huge, order: 0))
        }
    }

    @Test(arguments: 0...11)
    func exhaustExactlyToZeroAndRefill(order: Int) throws {
        let frames: UInt64 = 8 * 512
        let a = try TestAllocator(frames: frames, treeChildren: 4, cores: 2)
        let llfree = a.llfree
        guard order <= llfree.geometry.maxOrder else {
            #expect(throws: LLFreeError.self) { try llfree.get(order: order, core: 0) }
            return
        }
        for round in 0..<2 {
            var got: [UInt64] = []
            while let f = try? llfree.get(order: order, core: got.count % 2) { got.append(f) }
            #expect(got.count == Int(frames) >> order, "round \(round)")
            #expect(Set(got).count == got.count)
            #expect(llfree.freeFrames == 0)
            #expect(throws: LLFreeError.outOfMemory(order: 0)) { try llfree.get(order: 0, core: 0) }
            #expect(llfree.validate() == [])
            for (i, f) in got.enumerated() { try llfree.put(f, order: order, core: (i + 1) % 2) }
            #expect(llfree.freeFrames == Int(frames))
            #expect(llfree.freeHugeFrames == 8)
            #expect(llfree.validate() == [])
        }
    }

    @Test func batchesGetAndPutWithPerFrameResults() throws {
        let a = try TestAllocator(frames: 2 * 512, treeChildren: 2, cores: 1)
        let llfree = a.llfree
        var buffer = [UInt64](repeating: 0, count: 300)
        let (count, error) = buffer.withUnsafeMutableBufferPointer { llfree.get(order: 2, core: 0, into: $0) }
        #expect(count == 256 && error == .outOfMemory(order: 2))
        var frames = Array(buffer.prefix(count))
        frames.append(frames[0])  // a double free inside the batch
        frames.append(3)          // misaligned
        var failures: [Int: LLFreeError] = [:]
        let freed = frames.withUnsafeBufferPointer { llfree.put(frames: $0, order: 2, core: 0) { failures[$0] = $1 } }
        #expect(freed == 256)
        #expect(failures.keys.sorted() == [256, 257])
        #expect(failures[256] == .notAllocated(frame: frames[0], order: 2))
        #expect(llfree.freeFrames == 1024)
        #expect(llfree.validate() == [])
    }
}

/// Collects errors from several threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
    var errors: [String] { lock.lock(); defer { lock.unlock() }; return list }
}

@Suite struct ReviewFindingTests {
    /// Frames of a reserved tree that other cores freed sit in the tree's global counter, the
    /// owner's own frees in its reservation: a get of a given run must use both.
    @Test func getAtUsesABudgetSplitBetweenReservationAndTree() throws {
        let a = try TestAllocator(frames: 512, treeChildren: 1, cores: 2)
        let llfree = a.llfree
        for _ in 0..<500 { _ = try llfree.get(order: 0, core: 0) }
        for f in UInt64(0)..<200 { try llfree.put(f, order: 0, core: 1) }    // tree's global counter
        for f in UInt64(200)..<256 { try llfree.put(f, order: 0, core: 0) }  // core 0's reservation
        #expect(try llfree.isFree(0, order: 8))
        try llfree.get(at: 0, order: 8, core: 0)
        #expect(try !llfree.isFree(0, order: 0))
        #expect(llfree.validate() == [])
    }

    /// A huge flag on a partial last child (damage) is repaired in one recovery, and a second
    /// recovery finds nothing to do.
    @Test func recoveryOfAHugeFlagOnAPartialChildIsRepeatable() throws {
        let a = try TestAllocator(frames: 512 + 100, treeChildren: 2, cores: 1)
        let lower = a.llfree.lower
        lower.entry(1).store(Child(free: 0, huge: true).raw, ordering: .relaxed)
        let first = lower.recover()
        #expect(first.repaired)
        #expect(lower.validate() == [])
        #expect(lower.child(1) == Child(free: 100))
        let second = lower.recover()
        #expect(!second.repaired, "\(second)")
    }
}
