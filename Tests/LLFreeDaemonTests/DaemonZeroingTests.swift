// No data crosses owners, through the real daemon on a real socket: what one owner wrote into its
// frames is never read by another owner that gets them later, across puts, restarts and crashes,
// and the idle zeroer zeroes freed huge frames while the daemon is idle.

import Foundation
import LLFreeClient
import LLFreeProtocol
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DaemonZeroingTests {
    /// Writes `byte` over every frame of each run through a mapping of the passed descriptor.
    static func fill(_ mapper: FrameMapper, _ frames: [UInt64], order: Int = 0, with byte: UInt8) throws {
        for frame in frames {
            let memory = try mapper.map(frame: frame, order: order)
            memset(memory.baseAddress!, Int32(byte), memory.count)
            mapper.unmap(memory)
        }
    }

    /// The runs among `frames` that hold a byte other than zero.
    static func dirty(_ mapper: FrameMapper, _ frames: [UInt64], order: Int = 0) throws -> [UInt64] {
        try frames.filter { frame in
            let memory = try mapper.map(frame: frame, order: order)
            defer { mapper.unmap(memory) }
            return !memory.allSatisfy { $0 == 0 }
        }
    }

    @Test func everyFrameOneOwnerWroteReadsAsZerosWhenAnotherGetsIt() throws {
        let daemon = try DaemonProcess(size: "16M", extra: ["--zero-cpu", "0"])
        defer { daemon.remove() }
        let a = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "a"))
        defer { a.close() }
        let mapperA = try FrameMapper(try a.frames())
        let huge = try a.get(order: 9, count: 3).frames
        let small = try a.get(order: 0, count: 4096 - 3 * 512).frames
        #expect(huge.count == 3 && small.count == 4096 - 3 * 512)
        try Self.fill(mapperA, huge, order: 9, with: 0xA5)
        try Self.fill(mapperA, small, with: 0x5A)
        _ = try a.put(order: 9, frames: huge)
        _ = try a.put(order: 0, frames: small)

        let b = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "b"))
        defer { b.close() }
        let mapperB = try FrameMapper(try b.frames())
        let hugeB = try b.get(order: 9, count: 8).frames
        let smallB = try b.get(order: 0, count: 4096).frames
        #expect(hugeB.count * 512 + smallB.count == 4096, "owner b got every frame")
        #expect(try Self.dirty(mapperB, hugeB, order: 9).isEmpty, "owner b reads owner a's bytes in a huge frame")
        #expect(try Self.dirty(mapperB, smallB).isEmpty, "owner b reads owner a's bytes in a base frame")
    }

    @Test func afterACrashAndARestartNoFrameHoldsAnotherOwnersBytes() throws {
        let daemon = try DaemonProcess(size: "16M", extra: ["--zero-cpu", "0"])
        defer { daemon.remove() }
        var kept: [UInt64] = []
        do {
            let a = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "a"))
            defer { a.close() }
            let mapper = try FrameMapper(try a.frames())
            let frames = try a.get(order: 0, count: 2048).frames
            try Self.fill(mapper, frames, with: 0xC3)
            _ = try a.put(order: 0, frames: Array(frames.prefix(1024)))
            kept = Array(frames.suffix(1024))
        }
        daemon.crash()
        try daemon.start(size: "16M", extra: ["--zero-cpu", "0"])
        let a = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "a", create: false))
        defer { a.close() }
        // The persistent owner finds its frames with its bytes in them.
        let listed = try a.list(owner: "a", limit: 4096)
        #expect(Set(listed.runs.map(\.frame)) == Set(kept))
        let mapperA = try FrameMapper(try a.frames())
        #expect(try Self.dirty(mapperA, kept).count == kept.count, "owner a's own frames keep its bytes")
        // Another owner gets every other frame: all zero.
        let b = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "b"))
        defer { b.close() }
        let got = try b.get(order: 0, count: 4096).frames
        #expect(got.count == 4096 - kept.count)
        #expect(try Self.dirty(try FrameMapper(try b.frames()), got).isEmpty, "after a crash owner b reads owner a's bytes")
    }

    @Test func theIdleZeroerZeroesFreedHugeFramesWhileNothingIsServed() throws {
        let metrics = daemonDirectoryMetricsSocket()
        let daemon = try DaemonProcess(size: "16M", extra: ["--zero-cpu", "50", "--metrics-listen", metrics])
        defer { daemon.remove() }
        let a = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "a"))
        defer { a.close() }
        let mapper = try FrameMapper(try a.frames())
        let huge = try a.get(order: 9, count: 4).frames
        try Self.fill(mapper, huge, with: 0x3C)
        _ = try a.put(order: 9, frames: huge)
        // Wait, bounded, for the zeroer to report the four huge frames zeroed.
        let deadline = Date().addingTimeInterval(30)
        var zeroed = 0.0
        while Date() < deadline {
            zeroed = (try? HTTPScrape.request(unixPath: metrics).sample("llfreed_zeroed_huge_frames_total")) ?? 0
            if zeroed >= 4 { break }
            usleep(20_000)
        }
        #expect(zeroed >= 4, "the idle zeroer zeroed \(zeroed) of the 4 freed huge frames in 30 s")
        // The frames it zeroed read as zeros before any get touches them.
        let reader = try FrameMapper(try BlockingLLFreeClient(socketPath: daemon.socket).frames())
        #expect(try Self.dirty(reader, huge, order: 9).isEmpty)
    }

    /// A metrics socket path short enough for sun_path.
    func daemonDirectoryMetricsSocket() -> String {
        "/tmp/llfreed-zero-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }
}

@Suite struct ReclaimTests {
    /// Bytes the file at `path` occupies (st_blocks).
    static func allocated(_ path: String) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { return -1 }
        return Int(st.st_blocks) * 512
    }

    @Test func freedHugeFramesBeyondTheReserveGoBackToTheHostAndReadAsZeros() throws {
        // On tmpfs, as the issue asks (a DAX file system punches the same way).
        let shm = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/llfreed-reclaim-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : nil
        let daemon = try DaemonProcess(directory: shm, size: "64M", extra: ["--zero-cpu", "100", "--zero-reserve", "8M"])
        defer { daemon.remove() }
        let frames = daemon.pool + ".frames"
        let a = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "a"))
        defer { a.close() }
        let mapper = try FrameMapper(try a.frames())
        let huge = try a.get(order: 9, count: 32).frames
        #expect(huge.count == 32, "the whole pool in huge frames")
        try DaemonZeroingTests.fill(mapper, huge, order: 9, with: 0x7E)
        let full = Self.allocated(frames)
        #expect(full >= 64 << 20, "writing every frame populated the frames file (\(full) bytes)")
        _ = try a.put(order: 9, frames: huge)
        // Wait, bounded, for the idle zeroer to punch out all but the reserve.
        let deadline = Date().addingTimeInterval(60)
        var now = full
        while Date() < deadline {
            now = Self.allocated(frames)
            if now <= (8 << 20) + (64 << 10) { break }
            usleep(20_000)
        }
        #expect(now <= (8 << 20) + (64 << 10), "the frames file still takes \(now) bytes, not the 8 MiB reserve (and its header)")
        // The stats reply says how many free huge frames went back to the host (the census
        // follows the last reclaim within about a second of idleness).
        var reclaimed: UInt32 = 0
        let census = Date().addingTimeInterval(30)
        while Date() < census {
            reclaimed = try a.stats().reclaimedHugeFrames
            if reclaimed >= 28 { break }
            usleep(50_000)
        }
        #expect(reclaimed == 28, "stats: \(reclaimed) free huge frames reclaimed, not the 28 beyond the 4-frame reserve")
        // A get of a reclaimed huge frame reads zeros; so does every other one.
        let b = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "b"))
        defer { b.close() }
        let again = try b.get(order: 9, count: 32).frames
        #expect(again.count == 32)
        #expect(try DaemonZeroingTests.dirty(try FrameMapper(try b.frames()), again, order: 9).isEmpty)
    }
}
