// `llfree-bench batch`: the core's bulk path against its frame-by-frame path in the same run.
// Batches of N order-0 frames (get into a buffer, then put of the same batches), ns per frame,
// on a volatile allocator and on a pool with owners (cpu-cache durability on --dir: one fence
// per batch either way). The bulk path takes up to 64 frames of one bitfield row with one
// compare-and-swap and frees the frames of one row with one; the frame-by-frame path does one
// compare-and-swap per frame (and one counter update and one reservation update per frame).
// The frames a round frees are made known zero again by the idle zeroer before the next round,
// off the clock, so the rows measure the allocator in the state the daemon's idle zeroer keeps
// (what a get costs when it must zero is `llfree-bench zero`).

import ArgumentParser
import Foundation
import LLFree
import LLFreePool

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Batch get/put of order-0 frames: the bulk path against the frame-by-frame path, ns per frame, in one run.")

    @Option(help: "Frames per batch, comma-separated.")
    var batch = "64"

    @Option(help: "Frames taken per round (in batches), then put back.")
    var frames = 1 << 18

    @Option(help: "Rounds; the median is reported.")
    var rounds = 7

    @Option(help: "Directory of the pool file for the persistent rows (a tmpfs such as /dev/shm).")
    var dir = "/dev/shm"

    @Flag(help: "One JSON object per row.")
    var json = false

    func run() throws {
        let sizes = batch.split(separator: ",").compactMap { Int($0) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 && $0 <= frames }) else { throw ValidationError("--batch must list sizes in 1...--frames") }
        let total = UInt64(frames) * 4  // a quarter of the pool in use at the peak
        let geometry = try Geometry(frames: total)
        let region = UnsafeMutableRawPointer.allocate(byteCount: geometry.metadataSize, alignment: 4096)
        defer { region.deallocate() }
        let volatile = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: 1)
        let path = "\(dir)/llfree-bench-batch-\(getpid()).pool"
        unlink(path)
        defer { unlink(path) }
        try Pool.format(path: path, frames: total)
        let pool = try Pool.open(path: path, cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator, let owners = image.owners else { throw ValidationError("the pool did not open with cpu-cache and owners") }
        image.allocator.settleAll()
        let owner = try owners.create(name: "bench", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
        if !json {
            print("batches of order-0 frames, \(frames) frames per round, median of \(rounds) rounds, ns per frame")
            print("allocator".padding(toLength: 28, withPad: " ", startingAt: 0) + "batch  get bulk  get per-frame  put bulk  put per-frame  get+put bulk / per-frame")
        }
        for n in sizes {
            for (name, measure) in [("volatile", { (bulk: Bool) in Self.round(volatile, owner: Owners.any, batch: n, frames: frames, bulk: bulk) }),
                                    ("cpu-cache pool, owners", { (bulk: Bool) in Self.round(image.allocator, owner: owner, batch: n, frames: frames, bulk: bulk) })] {
                var bulk: [(Double, Double)] = [], single: [(Double, Double)] = []
                for _ in 0..<rounds {
                    // Alternated, so both paths see the same machine.
                    bulk.append(measure(true))
                    single.append(measure(false))
                }
                let gb = Self.median(bulk.map(\.0)), pb = Self.median(bulk.map(\.1))
                let gs = Self.median(single.map(\.0)), ps = Self.median(single.map(\.1))
                let ratio = (gb + pb) / (gs + ps)
                if json {
                    print("{\"bench\":\"batch\",\"allocator\":\"\(name)\",\"batch\":\(n),\"getBulkNsPerFrame\":\(Self.f(gb)),\"getPerFrameNsPerFrame\":\(Self.f(gs)),\"putBulkNsPerFrame\":\(Self.f(pb)),\"putPerFrameNsPerFrame\":\(Self.f(ps)),\"bulkRatio\":\(String(format: "%.3f", ratio))}")
                } else {
                    print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%5d  %8.2f  %13.2f  %8.2f  %13.2f  %.3fx", n, gb, gs, pb, ps, ratio))
                }
            }
        }
    }

    static func f(_ x: Double) -> String { String(format: "%.2f", x) }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// Gets `frames` frames in batches of `batch`, then puts them back in the same batches;
    /// returns ns per frame of the gets and of the puts.
    static func round<P: Persistence>(_ a: LLFree<P>, owner: OwnerID, batch: Int, frames: Int, bulk: Bool) -> (Double, Double) {
        let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: frames)
        defer { buffer.deallocate() }
        let clock = ContinuousClock()
        var got = 0
        let t0 = clock.now
        while got < frames {
            let n = min(batch, frames - got)
            let (count, _) = a.get(order: 0, core: 0, owner: owner == Owners.any ? Owners.any : owner,
                                   into: UnsafeMutableBufferPointer(rebasing: buffer[got..<(got + n)]), bulk: bulk)
            if count == 0 { break }
            got += count
        }
        let t1 = clock.now
        var done = 0
        while done < got {
            let n = min(batch, got - done)
            _ = a.put(frames: UnsafeBufferPointer(rebasing: buffer[done..<(done + n)]), order: 0, core: 0, owner: owner,
                      waiting: Yielding(), bulk: bulk) { _, _ in }
            done += n
        }
        let t2 = clock.now
        ZeroCommand.zeroAll(a)
        return (ns(t1 - t0) / Double(max(got, 1)), ns(t2 - t1) / Double(max(got, 1)))
    }

    static func ns(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1e9 + Double(atto) / 1e9
    }
}
