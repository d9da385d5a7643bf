// Zeroing on a real pool file: no get hands a frame with an earlier holder's bytes, a frame known
// zero is never written again by a get, and the idle zeroer makes freed huge frames known zero.

import Foundation
import LLFree
@testable import LLFreePool
import Testing

@Suite struct ZeroingTests {
    /// A split pool of `children` whole children on /dev/shm, opened in cpu-cache mode.
    static func withPool(children: Int = 8, _ body: (Pool, PoolImage<PmemPersistence>) throws -> Void) throws {
        let scratch = ScratchPath("zero"); defer { scratch.remove(); unlink(scratch.path + ".frames") }
        try Pool.format(path: scratch.path, frames: UInt64(children * Geometry.childFrames), framesPath: scratch.path + ".frames",
                        durability: .cpuCache)
        let pool = try Pool.open(path: scratch.path, framesPath: scratch.path + ".frames", cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator else { Issue.record("cpu-cache uses PmemPersistence"); return }
        try body(pool, image)
    }

    static func owner(_ image: PoolImage<PmemPersistence>, _ name: String) throws -> OwnerID {
        try image.owners!.create(name: name, lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
    }

    static func bytes(_ pool: Pool, _ frame: UInt64, order: Int = 0) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pool.frames + Int(frame) * Geometry.frameSize, count: Geometry.frameSize << order)
    }

    static func isZero(_ buffer: UnsafeMutableRawBufferPointer) -> Bool { buffer.allSatisfy { $0 == 0 } }

    @Test func aNewPoolHasEveryFrameKnownZero() throws {
        try Self.withPool { pool, image in
            #expect(image.allocator.zeroedFrames() == Int(pool.header.frames))
            #expect(image.allocator.validate().isEmpty)
        }
    }

    @Test func aFrameAnotherOwnerWroteReadsAsZerosWhenItIsGotAgain() throws {
        try Self.withPool { pool, image in
            let a = try Self.owner(image, "a"), b = try Self.owner(image, "b")
            let llfree = image.allocator
            for order in [0, 3, 9, 10] {
                let frame = try llfree.get(order: order, core: 0, owner: a)
                let run = Self.bytes(pool, frame, order: order)
                memset(run.baseAddress!, 0xA5, run.count)
                try llfree.put(frame, order: order, core: 0, owner: a)
                #expect(llfree.lower.frameTag(frame) == .none, "a freed frame is not known zero")
                try llfree.get(at: frame, order: order, core: 0, owner: b)
                #expect(Self.isZero(run), "order \(order): owner b reads owner a's bytes")
                try llfree.put(frame, order: order, core: 0, owner: b)
            }
            // The batch path too: every frame of a batch that recycles written frames is zero.
            var frames = [UInt64](repeating: 0, count: 200)
            let got = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, owner: a, into: $0) }.count
            for f in frames.prefix(got) { memset(Self.bytes(pool, f).baseAddress!, 0x5A, Geometry.frameSize) }
            _ = frames.prefix(got).withUnsafeBufferPointer { llfree.put(frames: $0, order: 0, core: 0, owner: a) { _, _ in } }
            var again = [UInt64](repeating: 0, count: Int(pool.header.frames))
            let n = again.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: 0, owner: b, into: $0) }.count
            #expect(n == Int(pool.header.frames))
            #expect(again.allSatisfy { Self.isZero(Self.bytes(pool, $0)) }, "a batch handed owner b a frame with owner a's bytes")
        }
    }

    @Test func aGetOfAKnownZeroFrameWritesNothingAndOfAnotherZeroesIt() throws {
        try Self.withPool { pool, image in
            let a = try Self.owner(image, "a")
            let llfree = image.allocator
            // Behind the allocator's back (no client can reach a free frame): a mark in a free
            // frame known zero survives the get, so the get did not write it a second time.
            let known: UInt64 = 5
            #expect(llfree.lower.frameTag(known) == .zeroed)
            Self.bytes(pool, known).storeBytes(of: 0x77, as: UInt64.self)
            try llfree.get(at: known, order: 0, core: 0, owner: a)
            #expect(Self.bytes(pool, known).load(as: UInt64.self) == 0x77, "a get zeroed a frame known zero")
            // The same frame freed is not known zero: the next get zeroes it.
            try llfree.put(known, order: 0, core: 0, owner: a)
            try llfree.get(at: known, order: 0, core: 0, owner: a)
            #expect(Self.isZero(Self.bytes(pool, known)))
        }
    }

    @Test func theIdleZeroerMakesFreedHugeFramesKnownZeroWithoutTouchingHeldOnes() throws {
        try Self.withPool { pool, image in
            let a = try Self.owner(image, "a")
            let llfree = image.allocator
            let held = try llfree.get(order: 9, core: 0, owner: a)
            memset(Self.bytes(pool, held, order: 9).baseAddress!, 0x11, 2 << 20)
            var freed: [UInt64] = []
            for _ in 0..<3 {
                let f = try llfree.get(order: 9, core: 0, owner: a)
                memset(Self.bytes(pool, f, order: 9).baseAddress!, 0x22, 2 << 20)
                freed.append(f)
            }
            for f in freed { try llfree.put(f, order: 9, core: 0, owner: a) }
            var zeroed: [Int] = []
            var cursor = 0
            while let child = llfree.zeroNext(core: 0, from: cursor) {
                zeroed.append(child)
                cursor = child + 1
                #expect(zeroed.count <= 8, "the zeroer does not stop")
                if zeroed.count > 8 { break }
            }
            #expect(Set(zeroed) == Set(freed.map { Int($0) / Geometry.childFrames }), "exactly the freed huge frames were zeroed")
            for f in freed {
                #expect(Self.isZero(Self.bytes(pool, f, order: 9)))
                #expect(llfree.lower.allZeroed(Int(f) / Geometry.childFrames))
            }
            #expect(Self.bytes(pool, held, order: 9).allSatisfy { $0 == 0x11 }, "the held huge frame is untouched")
            #expect(llfree.zeroedFrames() == Int(pool.header.frames) - Geometry.childFrames)
            #expect(llfree.held(by: Owners.zeroer) == 0)
            #expect(llfree.validate().isEmpty)
        }
    }

    @Test func aCrashedPoolRecoversWithNoFrameKnownZeroThatIsNot() throws {
        let scratch = ScratchPath("zerocrash"); defer { scratch.remove(); unlink(scratch.path + ".frames") }
        let frames = UInt64(4 * Geometry.childFrames)
        try Pool.format(path: scratch.path, frames: frames, framesPath: scratch.path + ".frames", durability: .cpuCache)
        var written: [UInt64] = []
        do {
            let pool = try Pool.open(path: scratch.path, framesPath: scratch.path + ".frames", cores: 1, durability: .cpuCache)
            guard case .pmem(let image) = pool.allocator else { return }
            let a = try Self.owner(image, "a")
            for _ in 0..<64 {
                let f = try image.allocator.get(order: 0, core: 0, owner: a)
                Self.bytes(pool, f).storeBytes(of: 0x99, as: UInt64.self)
                written.append(f)
            }
            for f in written.prefix(32) { try image.allocator.put(f, order: 0, core: 0, owner: a) }
            try pool.abandon()
        }
        let pool = try Pool.open(path: scratch.path, framesPath: scratch.path + ".frames", cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator else { return }
        #expect(pool.report.wasDirty)
        image.allocator.settleAll()
        for f in 0..<frames where image.allocator.lower.frameTag(f) == .zeroed {
            #expect(Self.bytes(pool, f).load(as: UInt64.self) == 0, "frame \(f) is known zero but holds bytes")
        }
        // The frames a kept owner still holds keep its bytes; the ones it freed come back zero.
        let a = image.owners!.owner(named: "a")!.id
        #expect(image.allocator.runs(of: a, from: 0, limit: 100).runs.map(\.frame).sorted() == Array(written.suffix(32)).sorted())
        for f in written.suffix(32) { #expect(Self.bytes(pool, f).load(as: UInt64.self) == 0x99) }
        for f in written.prefix(32) {
            try image.allocator.get(at: f, order: 0, core: 0, owner: a)
            #expect(Self.isZero(Self.bytes(pool, f)))
        }
    }
}
