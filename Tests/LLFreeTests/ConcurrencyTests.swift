// Several threads hammer get/put of mixed orders, each freeing frames another thread got. A
// test-side bitmap catches any frame handed out twice while it happens; afterwards validate()
// passes and every frame is free again.

import Testing
import Foundation
import Atomics
@testable import LLFree

@Suite struct ConcurrencyTests {
    /// Frames currently held by test threads, one bit per frame.
    final class Ownership: @unchecked Sendable {
        let words: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
        let count: Int
        init(frames: Int) {
            count = (frames + 63) / 64
            words = .allocate(capacity: count)
            words.initialize(repeating: .init(0), count: count)
        }
        deinit { words.deallocate() }
        /// Marks the run held; false if any frame of it already was.
        func take(_ frame: UInt64, order: Int) -> Bool {
            var ok = true
            for f in frame..<(frame + (UInt64(1) << UInt64(order))) {
                let old = UnsafeAtomic<UInt64>(at: words + Int(f / 64)).loadThenBitwiseOr(with: 1 << (f % 64), ordering: .relaxed)
                if old & (1 << (f % 64)) != 0 { ok = false }
            }
            return ok
        }
        func release(_ frame: UInt64, order: Int) {
            for f in frame..<(frame + (UInt64(1) << UInt64(order))) {
                _ = UnsafeAtomic<UInt64>(at: words + Int(f / 64)).loadThenBitwiseAnd(with: ~(1 << (f % 64)), ordering: .relaxed)
            }
        }
    }

    /// A thread's inbox of frames another thread allocated for it to free.
    final class Inbox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(UInt64, Int)] = []
        func push(_ item: (UInt64, Int)) { lock.lock(); items.append(item); lock.unlock() }
        func drain() -> [(UInt64, Int)] { lock.lock(); defer { items = []; lock.unlock() }; return items }
    }

    @Test(arguments: [2, 4, 8])
    func threadsWithCrossCoreFrees(threads: Int) throws {
        let frames: UInt64 = 16 * 4 * 512  // 16 trees of 4 children: tight enough to steal and drain
        let a = try TestAllocator(frames: frames, treeChildren: 4, cores: threads)
        let llfree = a.llfree
        let owned = Ownership(frames: Int(frames))
        let inboxes = (0..<threads).map { _ in Inbox() }
        let failures = ResultBox()
        let orders = [0, 0, 0, 0, 1, 2, 3, 6, 8, 9, 9, 10]
        let iterations = 20_000 / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var rng = SeededRandom(seed: UInt64(t) + 1)
            var mine: [(UInt64, Int)] = []
            for i in 0..<iterations {
                let order = orders[Int.random(in: 0..<orders.count, using: &rng)]
                do {
                    let frame = try llfree.get(order: order, core: t, kind: Kind.allCases[i % 3])
                    if !owned.take(frame, order: order) { failures.add("frame \(frame)/\(order) handed out twice") }
                    // Most frames are freed by the next thread, some by this one.
                    if i % 4 == 0 { mine.append((frame, order)) } else { inboxes[(t + 1) % threads].push((frame, order)) }
                } catch {
                    if (error as? LLFreeError) != .outOfMemory(order: order) { failures.add("get: \(error)") }
                }
                if i % 8 == 7 {
                    for (frame, order) in inboxes[t].drain() + mine {
                        owned.release(frame, order: order)
                        do { try llfree.put(frame, order: order, core: t) } catch { failures.add("put \(frame)/\(order): \(error)") }
                    }
                    mine.removeAll()
                }
            }
            for (frame, order) in mine {
                owned.release(frame, order: order)
                do { try llfree.put(frame, order: order, core: t) } catch { failures.add("put \(frame)/\(order): \(error)") }
            }
        }
        // What is still in the inboxes is freed from another core.
        for (t, inbox) in inboxes.enumerated() {
            for (frame, order) in inbox.drain() { try llfree.put(frame, order: order, core: (t + 1) % threads) }
        }
        #expect(failures.errors == [])
        #expect(llfree.validate() == [])
        #expect(llfree.freeFrames == Int(frames))
        #expect(llfree.freeHugeFrames == Int(frames) / 512)
        llfree.drainAll()
        #expect(llfree.validate() == [])
    }
}
