// llfree-ctl format, info and check, run as the built binary: exit codes, reports, and that info
// and check leave the pool file byte for byte unchanged.

import Foundation
import LLFree
import LLFreePool
import Testing

@Suite struct PoolToolTests {
    @Test func formatRefusesAnExistingFileUnlessForced() throws {
        let scratch = ScratchPath("ctlformat"); defer { scratch.remove() }
        #expect(try runCtl(["format", scratch.path, "--size", "8M", "--durability", "cpu-cache"]).status == 0)
        let before = try contents(scratch.path)
        #expect(try runCtl(["format", scratch.path, "--size", "8M"]).status != 0)
        #expect(try contents(scratch.path) == before)
        #expect(try runCtl(["format", scratch.path, "--size", "12K"]).status != 0)
        #expect(try runCtl(["format", scratch.path, "--size", "16M", "--tree-children", "8", "--force", "--durability", "cpu-cache"]).status == 0)
        let inspection = try Pool.inspect(path: scratch.path)
        #expect(inspection.header.frames == 4096 && inspection.header.treeChildren == 8)
    }

    @Test func checkAndInfoOfACleanPool() throws {
        let scratch = ScratchPath("ctlclean"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let before = try contents(scratch.path)
        let check = try runCtl(["check", scratch.path])
        #expect(check.status == 0 && check.output.contains("consistent"))
        let info = try runCtl(["info", scratch.path, "--json"])
        #expect(info.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any])
        #expect(json["frames"] as? Int == Int(smallFrames))
        #expect(json["freeFrames"] as? Int == Int(smallFrames))
        #expect(json["freeHugeFrames"] as? Int == Int(smallFrames) / 512)
        #expect(json["state"] as? String == "clean")
        #expect(try runCtl(["info", scratch.path]).output.contains("free frames"))
        #expect(try contents(scratch.path) == before)
    }

    @Test func checkReportsAWrongCounterWithExit1() throws {
        let scratch = ScratchPath("ctlbad"); defer { scratch.remove() }
        let header = try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache).header
        // Child 1's counter says 3 frames fewer than its (empty) bitfield: clean pools must be exact.
        let offset = UInt64(header.layout.childrenOffset)
        let word = try readWord(scratch.path, at: offset)
        try patchWord(scratch.path, at: offset, word & ~(0xFFFF << 16) | UInt64(Child(free: 509).raw) << 16)
        let before = try contents(scratch.path)
        let check = try runCtl(["check", scratch.path])
        #expect(check.status == 1)
        #expect(check.output.contains("child 1: counter 509 but bitfield has 512 free"))
        #expect(try contents(scratch.path) == before)
    }

    @Test func checkAndInfoOfADirtyPoolChangeNothing() throws {
        let scratch = ScratchPath("ctldirty"); defer { scratch.remove() }
        try Pool.format(path: scratch.path, frames: smallFrames, durability: .cpuCache)
        let pool = try Pool.open(path: scratch.path, cores: 1, durability: .cpuCache)
        guard case .pmem(let image) = pool.allocator else { Issue.record("cpu-cache uses PmemPersistence"); return }
        let owner = try testOwner(image)
        for _ in 0..<10 { _ = try image.allocator.get(order: 0, core: 0, owner: owner) }
        // While open: info works (in use), check refuses with 2.
        let live = try runCtl(["info", scratch.path, "--json"])
        #expect(live.status == 0 && live.output.contains("\"inUse\" : true"))
        #expect(try runCtl(["check", scratch.path]).status == 2)
        try pool.abandon()
        let before = try contents(scratch.path)
        let check = try runCtl(["check", scratch.path])
        #expect(check.status == 0 && check.output.contains("dirty"))
        let info = try runCtl(["info", scratch.path, "--json"])
        #expect(info.output.contains("\"state\" : \"dirty\"") && info.output.contains("\"freeFrames\" : \(Int(smallFrames) - 10)"))
        #expect(try contents(scratch.path) == before)
    }

    @Test func notAPoolExits2() throws {
        let scratch = ScratchPath("ctlnot"); defer { scratch.remove() }
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: scratch.path))
        let check = try runCtl(["check", scratch.path])
        #expect(check.status == 2)
        #expect(try runCtl(["info", scratch.path]).status == 2)
        #expect(try runCtl(["check", scratch.path + ".missing"]).status == 2)
        #expect(try contents(scratch.path) == Data(repeating: 7, count: 8192))
    }
}
