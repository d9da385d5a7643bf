// `llfree-bench zero`: what zeroing costs a get, in one run on a split pool with owners
// (cpu-cache durability on --dir). Gets of order 0 and order 9 for a new owner from frames known
// zero (a new pool, or after the idle zeroer) and from frames another owner wrote and freed (the
// get zeroes them, and fences once more before tagging), against a plain memset of the same
// bytes and libpmem's pmem_memset_nodrain with a drain, over the same frames in the same run.

import ArgumentParser
import CLibPmem
import Foundation
import LLFree
import LLFreePool

struct ZeroCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zero",
        abstract: "Gets of order 0 and 9 to a new owner, known zero and not, against memset of the same size, ns per frame, in one run.")

    @Option(help: "Bytes of frames in the pool (a power-of-two multiple of 2 MiB is best).")
    var size = 256 << 20

    @Option(help: "Rounds; the median is reported.")
    var rounds = 5

    @Option(help: "Directory of the pool files (a tmpfs such as /dev/shm).")
    var dir = "/dev/shm"

    @Flag(help: "One JSON object per row.")
    var json = false

    func run() throws {
        let frames = UInt64(size / Geometry.frameSize)
        guard frames >= UInt64(4 * Geometry.childFrames) else { throw ValidationError("--size must be at least 8 MiB") }
        let path = "\(dir)/llfree-bench-zero-\(getpid()).pool"
        unlink(path); unlink(path + ".frames")
        defer { unlink(path); unlink(path + ".frames") }
        try Pool.format(path: path, frames: frames, framesPath: path + ".frames")
        let pool = try Pool.open(path: path, framesPath: path + ".frames", cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator, let owners = image.owners else { throw ValidationError("the pool did not open with cpu-cache and owners") }
        let llfree = image.allocator
        llfree.settleAll()
        let writer = try owners.create(name: "writer", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        let reader = try owners.create(name: "reader", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        // Populate every page of the frames once, so no row measures first-touch page faults.
        memset(pool.frames, 0, Int(frames) * Geometry.frameSize)

        var rows: [(String, Int, [Double])] = []
        func add(_ name: String, _ order: Int, _ ns: Double) {
            if let i = rows.firstIndex(where: { $0.0 == name && $0.1 == order }) { rows[i].2.append(ns) } else { rows.append((name, order, [ns])) }
        }
        for _ in 0..<rounds {
            for order in [0, 9] {
                let runs = Int(frames >> UInt64(order)) / 2
                // Known zero: after the idle zeroer (off the clock) every free frame is.
                Self.zeroAll(llfree)
                add("get, known zero", order, Self.gets(llfree, order: order, runs: runs, owner: reader, pool: pool, write: false))
                // Not known zero: a writer fills the frames and frees them; the reader's gets zero them.
                Self.gets(llfree, order: order, runs: runs, owner: writer, pool: pool, write: true)
                add("get, not known zero", order, Self.gets(llfree, order: order, runs: runs, owner: reader, pool: pool, write: false))
                // The same bytes with memset, and with libpmem's non-temporal memset and a drain.
                let bytes = runs << order * Geometry.frameSize
                add("memset alone", order, Self.timed(frames: runs << order) {
                    var i = 0
                    while i < runs { memset(pool.frames + (i << order) * Geometry.frameSize, 0, Geometry.frameSize << order); i += 1 }
                    _ = bytes
                })
                add("pmem_memset_nodrain + drain", order, Self.timed(frames: runs << order) {
                    var i = 0
                    while i < runs {
                        pmem_memset_nodrain(pool.frames + (i << order) * Geometry.frameSize, 0, Geometry.frameSize << order)
                        pmem_drain()
                        i += 1
                    }
                })
            }
        }
        if !json {
            print("zeroing at get: split pool of \(frames) frames on \(dir), cpu-cache, median of \(rounds) rounds, ns per base frame")
            print("measure".padding(toLength: 30, withPad: " ", startingAt: 0) + "order  ns/frame  ns/run")
        }
        for (name, order, samples) in rows {
            let m = samples.sorted()[samples.count / 2]
            if json {
                print("{\"bench\":\"zero\",\"measure\":\"\(name)\",\"order\":\(order),\"ns_per_frame\":\(String(format: "%.2f", m)),\"ns_per_run\":\(String(format: "%.1f", m * Double(1 << order)))}")
            } else {
                print(name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%5d  %8.2f  %8.1f", order, m, m * Double(1 << order)))
            }
        }
    }

    /// Runs the idle zeroer until every free huge frame is known zero.
    static func zeroAll<P: Persistence>(_ llfree: LLFree<P>) {
        var cursor = 0
        while let child = llfree.zeroNext(core: 0, from: cursor) { cursor = child + 1 }
    }

    /// Gets `runs` runs of `order` for `owner` one at a time (timed), then puts them back (not
    /// timed), after writing one byte into each frame when `write`. Returns ns per base frame.
    @discardableResult
    static func gets<P: Persistence>(_ llfree: LLFree<P>, order: Int, runs: Int, owner: OwnerID, pool: Pool, write: Bool) -> Double {
        var got: [UInt64] = []
        got.reserveCapacity(runs)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<runs {
            guard let f = try? llfree.get(order: order, core: 0, owner: owner) else { break }
            got.append(f)
        }
        let took = clock.now - start
        for f in got {
            if write {
                for i in 0..<(1 << order) { (pool.frames + (Int(f) + i) * Geometry.frameSize).storeBytes(of: 0xFF, as: UInt8.self) }
            }
            try? llfree.put(f, order: order, core: 0, owner: owner)
        }
        return BatchCommand.ns(took) / Double(max(got.count << order, 1))
    }

    static func timed(frames: Int, _ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        body()
        return BatchCommand.ns(clock.now - start) / Double(frames)
    }
}
