// Every refusal of open, format and inspect: the right typed reason, naming the file, and the
// file byte for byte as it was.

import Atomics
import Foundation
import LLFree
@testable import LLFreePool
import Testing

@Suite struct PoolRefusalTests {
    /// Formats a small pool, applies `damage`, and checks that open and inspect refuse it with
    /// `expected` and leave the (damaged) file unchanged.
    func expectRefusal(_ label: String, _ expected: (PoolError.Reason) -> Bool,
                       damage: (String, PoolHeader) throws -> Void) throws {
        let scratch = ScratchPath(label); defer { scratch.remove() }
        let header = try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache).header
        try damage(scratch.path, header)
        let before = try contents(scratch.path)
        let openError = try #require(poolError { () throws(PoolError) in try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache) })
        #expect(expected(openError.reason), "open: \(openError)")
        #expect(openError.file == scratch.path && openError.unchanged)
        #expect(openError.description.contains(scratch.path) && openError.description.contains("not changed"))
        let inspectError = try #require(poolError { () throws(PoolError) in try Pool.inspect(path: scratch.path) })
        #expect(expected(inspectError.reason), "inspect: \(inspectError)")
        #expect(try contents(scratch.path) == before)
    }

    /// Stores the checksum the header words of `path` now have (a version-2 header's covers words
    /// 0..<16 and 17..<20), so that a patched field is found by the later checks.
    func reseal(_ path: String, _ header: PoolHeader) throws {
        var words = [UInt64]()
        for i in 0..<PoolHeader.Word.checksummedV2 { words.append(try readWord(path, at: UInt64(8 * i))) }
        try patchWord(path, at: 128, PoolHeader.checksum(PoolHeader.checksummed(words, version: header.version)))
    }

    @Test func notAPool() throws {
        try expectRefusal("notapool", { if case .notAPool = $0 { return true }; return false }) { path, _ in
            let noise = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
            try noise.write(to: URL(fileURLWithPath: path))
        }
    }

    @Test func emptyFileIsNotAPool() throws {
        try expectRefusal("empty", { $0 == .notAPool(magic: 0) }) { path, _ in setSize(path, 0) }
    }

    @Test func wrongVersion() throws {
        try expectRefusal("version", { $0 == .wrongVersion(found: 7, supported: PoolHeader.version) }) { path, _ in
            try patchWord(path, at: 8, 7)
        }
    }

    @Test func badChecksum() throws {
        try expectRefusal("checksum", { if case .badChecksum = $0 { return true }; return false }) { path, header in
            try patchWord(path, at: 40, header.frames + 1)
        }
    }

    @Test func inconsistentLayoutWithAValidChecksum() throws {
        try expectRefusal("layout", { if case .corrupt(let why) = $0 { return why.contains("frames offset") }; return false }) { path, header in
            try patchWord(path, at: 96, header.layout.framesOffset + 4096)
            try reseal(path, header)
        }
    }

    @Test(arguments: [17, 18, 19])
    func theChecksumCoversTheOwnerWords(word: Int) throws {
        try expectRefusal("checksumv2", { if case .badChecksum = $0 { return true }; return false }) { path, _ in
            try patchWord(path, at: UInt64(8 * word), try readWord(path, at: UInt64(8 * word)) + 64)
        }
    }

    @Test(arguments: [(17, "owner table offset"), (19, "frame tags offset")])
    func inconsistentOwnerWordsWithAValidChecksum(word: Int, name: String) throws {
        try expectRefusal("ownerlayout", { if case .corrupt(let why) = $0 { return why.contains(name) }; return false }) { path, header in
            try patchWord(path, at: UInt64(8 * word), try readWord(path, at: UInt64(8 * word)) + 64)
            try reseal(path, header)
        }
    }

    @Test func anOwnerCapacityOutsideTheOwnerNumbersWithAValidChecksum() throws {
        try expectRefusal("ownercapacity", { if case .corrupt(let why) = $0 { return why.contains("owner capacity") }; return false }) { path, header in
            try patchWord(path, at: 8 * 18, UInt64(PoolLayout.maxOwnerCapacity + 1))
            try reseal(path, header)
        }
    }

    @Test func badStateWord() throws {
        try expectRefusal("state", { if case .corrupt(let why) = $0 { return why.contains("state word") }; return false }) { path, _ in
            try patchWord(path, at: 192, 0x55)
        }
    }

    @Test func truncated() throws {
        try expectRefusal("truncated", { if case .truncated = $0 { return true }; return false }) { path, header in
            setSize(path, header.layout.fileSize - 4096)
        }
    }

    @Test func truncatedInsideTheHeader() throws {
        try expectRefusal("truncatedheader", { $0 == .truncated(size: 100, needed: 4096) }) { path, _ in setSize(path, 100) }
    }

    @Test func wrongSize() throws {
        try expectRefusal("wrongsize", { if case .wrongSize = $0 { return true }; return false }) { path, header in
            setSize(path, header.layout.fileSize + 4096)
        }
    }

    @Test func notFound() {
        let scratch = ScratchPath("missing")
        #expect(poolError { () throws(PoolError) in try Pool.open(path: scratch.path, cores: 1) }?.reason == .notFound)
        #expect(poolError { () throws(PoolError) in try Pool.inspect(path: scratch.path) }?.reason == .notFound)
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test func secondOpenerIsRefusedAndChangesNothing() throws {
        let scratch = ScratchPath("locked"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let pool = try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache)
        let before = try contents(scratch.path)
        #expect(poolError { () throws(PoolError) in try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache) }?.reason == .locked)
        #expect(poolError { () throws(PoolError) in try Pool.format(path: scratch.path, frames: 512, force: true) }?.reason == .locked)
        #expect(poolError { () throws(PoolError) in try Pool.inspect(path: scratch.path, requireIdle: true) }?.reason == .locked)
        #expect(try Pool.inspect(path: scratch.path).inUse)
        #expect(try contents(scratch.path) == before)
        try pool.close()
        // The lock goes with the close.
        try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache).close()
    }

    /// A child spawned on another thread shares the pool's descriptor until its exec; a close
    /// followed at once by an open must not be refused for it (CI saw exactly this once).
    @Test func childrenSpawnedMeanwhileDoNotHoldTheLock() throws {
        let scratch = ScratchPath("spawn"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let stop = ManagedAtomic(false)
        let spawned = ManagedAtomic(0)
        let spawner = Thread {
            while !stop.load(ordering: .relaxed) {
                let child = Process()
                child.executableURL = URL(fileURLWithPath: "/bin/true")
                guard (try? child.run()) != nil else { continue }
                child.waitUntilExit()
                spawned.wrappingIncrement(ordering: .relaxed)
            }
        }
        spawner.start()
        defer { stop.store(true, ordering: .relaxed) }
        // Enough cycles that many spawns overlap them (with no grace this failed within the first
        // few dozen cycles).
        var cycle = 0
        let start = ContinuousClock.now
        while cycle < 300 || (spawned.load(ordering: .relaxed) < 100 && ContinuousClock.now - start < .seconds(10)) {
            do {
                try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache).close()
            } catch {
                Issue.record("cycle \(cycle) after \(spawned.load(ordering: .relaxed)) children: \(error)")
                return
            }
            cycle += 1
        }
        #expect(spawned.load(ordering: .relaxed) >= 100, "the spawner must have overlapped the cycles")
    }

    @Test func formatRefusesAnExistingFile() throws {
        let scratch = ScratchPath("exists"); defer { scratch.remove() }
        try Data("not yours".utf8).write(to: URL(fileURLWithPath: scratch.path))
        let error = poolError { () throws(PoolError) in try Pool.format(path: scratch.path, frames: smallFrames) }
        #expect(error?.reason == .exists && error?.unchanged == true)
        #expect(try contents(scratch.path) == Data("not yours".utf8))
    }

    @Test func formatRefusesBadArgumentsWithoutCreatingTheFile() {
        let scratch = ScratchPath("badargs"); defer { scratch.remove() }
        for (frames, tree) in [(UInt64(0), 32), (smallFrames, 3), (Geometry.maxFrames + 1, 32)] {
            let error = poolError { () throws(PoolError) in try Pool.format(path: scratch.path, frames: frames, treeChildren: tree) }
            if case .invalidArgument = error?.reason {} else { Issue.record("frames \(frames) tree \(tree): \(String(describing: error))") }
            #expect(!FileManager.default.fileExists(atPath: scratch.path))
        }
    }

    @Test func openRefusesABadCoreCountAndChangesNothing() throws {
        let scratch = ScratchPath("cores"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let before = try contents(scratch.path)
        let error = poolError { () throws(PoolError) in try Pool.open(path: scratch.path, cores: 0) }
        if case .invalidArgument = error?.reason {} else { Issue.record("\(String(describing: error))") }
        #expect(try contents(scratch.path) == before)
    }
}
