// The idle zeroer holds the free huge frame it works on, yet a client never notices: with the
// zeroer stepping without pause beside it, a client that freed everything reads every frame free
// in the counts and gets every frame back at once, round after round.

import Atomics
import Foundation
import LLFree
@testable import LLFreeDaemon
import LLFreePool
import Testing

@Suite struct ZeroerGateTests {
    @Test func theFrameTheZeroerWorksOnIsCountedFreeAndNeverMissingFromAGet() throws {
        let path = "/dev/shm/llfreed-gate-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pool"
        defer { unlink(path); unlink(path + ".frames") }
        let children = 4
        try Pool.format(path: path, frames: UInt64(children * Geometry.childFrames), framesPath: path + ".frames", durability: .cpuCache)
        let pool = try Pool.open(path: path, framesPath: path + ".frames", cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator else { Issue.record("cpu-cache uses PmemPersistence"); return }
        let owner = try image.owners!.create(name: "a", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        let served = PmemAllocator(image.allocator)
        let zeroer = IdleZeroer(image.allocator, gate: served.zeroerGate, reclaimer: nil, reserveBytes: 0)

        // The zeroer steps without pause until told to stop.
        let stop = ManagedAtomic<Bool>(false), steps = ManagedAtomic<Int>(0), stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while !stop.load(ordering: .relaxed) {
                if zeroer.step() { steps.wrappingIncrement(ordering: .relaxed) }
            }
            stopped.signal()
        }
        defer { stop.store(true, ordering: .relaxed); stopped.wait() }

        var frames = [UInt64](repeating: 0, count: children)
        let clock = ContinuousClock(), start = clock.now
        var rounds = 0
        // Enough rounds that the zeroer is caught holding a frame many times over.
        while rounds < 2000 || (steps.load(ordering: .relaxed) < 200 && clock.now - start < .seconds(60)) {
            rounds += 1
            let got = frames.withUnsafeMutableBufferPointer {
                served.get(order: Geometry.hugeOrder, core: 0, kind: .huge, owner: owner, into: $0)
            }
            #expect(got.count == children && got.error == nil, "round \(rounds): a huge frame was missing from a get of all of them")
            let freed = frames.prefix(got.count).withUnsafeBufferPointer {
                served.put(frames: $0, order: Geometry.hugeOrder, core: 0, owner: owner, failed: { _, _ in })
            }
            let free = served.freeFrames, freeHuge = served.freeHugeFrames
            #expect(freed == got.count)
            #expect(free == children * Geometry.childFrames, "round \(rounds): free frames after freeing everything")
            #expect(freeHuge == children, "round \(rounds): free huge frames after freeing everything")
            // One failure says it all: the first is reported, not thousands.
            if got.count != children || free != children * Geometry.childFrames || freeHuge != children { break }
        }
        #expect(steps.load(ordering: .relaxed) >= 200, "the zeroer zeroed beside the client")
    }
}
