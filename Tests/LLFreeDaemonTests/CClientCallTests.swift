// The C client's calls against the real daemon on a real socket, read as a specification of
// llfree/client.h: connect describes the pool and the owner; get fills the caller's array and
// reports a shortfall; put reports each run; is-free, list (paginated), release, the root's
// compare-and-set, stats and ping do what the wire protocol says; a call longer than a batch
// is split and pipelined.

import CLLFreeClient
import Foundation
import LLFreeClient
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct CClientCallTests {
    @Test func connectDescribesThePoolAndTheOwnerItAttachedTo() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-db")
        let swift = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { swift.close() }
        let hello = try swift.hello()

        let info = CClient.poolInfo(c)
        #expect(info.version == 3)
        #expect(info.frames == hello.frames && info.frames_offset == hello.framesOffset)
        #expect(info.frame_size == 4096 && info.max_order == hello.maxOrder && info.max_batch == 16384)
        #expect(info.children == hello.children && info.tree_children == hello.treeChildren && info.trees == hello.trees)
        #expect(info.durability == UInt8(LLFREE_DURABILITY_CPU_CACHE.rawValue))
        #expect(CClient.bytes(info.uuid) == hello.uuid)
        #expect(info.metadata_reachable == 0, "the daemon created a split pool")
        #expect(String(cString: info.path) == hello.path)

        var owner = llfree_owner_record()
        #expect(llfree_attached(c.pointer, &owner) == LLFREE_OK)
        #expect(CClient.string(owner.name) == "c-db")
        #expect(owner.created == 1 && owner.connections == 1 && owner.held == 0 && owner.uid == getuid())
        #expect(owner.kind == UInt8(LLFREE_OWNER_PERSISTENT.rawValue))
    }

    @Test func withoutAnOwnerTheClientActsForItsUidAndSaysSo() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon)
        var owner = llfree_owner_record()
        #expect(llfree_attached(c.pointer, &owner) == LLFREE_E_NOT_SUPPORTED)
        #expect(CClient.message.contains("uid-\(getuid())"))
        var frames = [UInt64](repeating: 0, count: 2)
        var served = 0
        #expect(llfree_get(c.pointer, 0, 2, LLFREE_KIND_FIXED, &frames, &served, nil) == LLFREE_OK)
        let swift = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { swift.close() }
        #expect(try swift.ownerInfo("uid-\(getuid())").held == 2)
    }

    @Test func getFillsTheArrayAndPutReportsEachRun() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-frames")
        var frames = [UInt64](repeating: 0, count: 5)
        var served = 0
        var shortfall = LLFREE_E_INTERNAL
        #expect(llfree_get(c.pointer, 2, 5, LLFREE_KIND_MOVABLE, &frames, &served, &shortfall) == LLFREE_OK)
        #expect(served == 5 && shortfall == LLFREE_OK)
        #expect(Set(frames).count == 5 && frames.allSatisfy { $0 % 4 == 0 })
        for frame in frames {
            var free = true
            #expect(llfree_is_free(c.pointer, frame, 2, &free) == LLFREE_OK)
            #expect(!free)
        }

        // The second run named twice: freed by its first mention, not allocated at its second.
        let put = frames + [frames[1]]
        var results = [llfree_status](repeating: LLFREE_E_INTERNAL, count: put.count)
        var freed = 0
        #expect(llfree_put(c.pointer, 2, put, put.count, &results, &freed) == LLFREE_OK)
        #expect(freed == 5)
        #expect(results == Array(repeating: LLFREE_OK, count: 5) + [LLFREE_E_NOT_ALLOCATED])
        for frame in frames {
            var free = false
            #expect(llfree_is_free(c.pointer, frame, 2, &free) == LLFREE_OK)
            #expect(free)
        }
    }

    @Test func aShortGetReturnsWhatItGotAndWhy() throws {
        let daemon = try DaemonProcess()  // 64 MiB: 16384 frames, two runs of order 13
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-short")
        var frames = [UInt64](repeating: 0, count: 3)
        var served = 0
        var shortfall = LLFREE_OK
        #expect(llfree_get(c.pointer, 13, 3, LLFREE_KIND_HUGE, &frames, &served, &shortfall) == LLFREE_OK)
        #expect(served == 2 && shortfall == LLFREE_E_OUT_OF_MEMORY)
        #expect(llfree_put(c.pointer, 13, frames, 2, nil, nil) == LLFREE_OK)

        let limited = try CClient.connected(daemon, owner: "c-quota", quota: 10)
        var many = [UInt64](repeating: 0, count: 16)
        #expect(llfree_get(limited.pointer, 0, 16, LLFREE_KIND_FIXED, &many, &served, &shortfall) == LLFREE_OK)
        #expect(served == 10 && shortfall == LLFREE_E_QUOTA_EXCEEDED)
    }

    @Test func callsLongerThanABatchAreSplitAndPipelined() throws {
        let daemon = try DaemonProcess(size: "256M")  // 65536 frames
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-bulk")
        let count = 40000  // three requests: 16384 + 16384 + 7232
        var frames = [UInt64](repeating: 0, count: count)
        var served = 0
        var shortfall = LLFREE_E_INTERNAL
        #expect(llfree_get(c.pointer, 0, count, LLFREE_KIND_FIXED, &frames, &served, &shortfall) == LLFREE_OK)
        #expect(served == count && shortfall == LLFREE_OK && Set(frames).count == count)
        let listed = try CClient.runs(c, limit: 1000)
        #expect(listed.count == count)
        #expect(Set(listed.map { $0 & ((1 << 56) - 1) }) == Set(frames) && listed.allSatisfy { $0 >> 56 == 0 })

        // A put of the same length, with one bad run in the last request: only that one is refused.
        var put = frames
        put[count - 1] = 1 << 40
        var results = [llfree_status](repeating: LLFREE_E_INTERNAL, count: count)
        var freed = 0
        #expect(llfree_put(c.pointer, 0, put, count, &results, &freed) == LLFREE_OK)
        #expect(freed == count - 1)
        #expect(results.prefix(count - 1).allSatisfy { $0 == LLFREE_OK } && results[count - 1] == LLFREE_E_INVALID_FRAME)
        #expect(llfree_put(c.pointer, 0, [frames[count - 1]], 1, nil, &freed) == LLFREE_OK && freed == 1)
        #expect(try CClient.runs(c).isEmpty)
    }

    @Test func listPagesThroughAnOwnersRunsAndReleaseFreesThemAll() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-list")
        var small = [UInt64](repeating: 0, count: 7)
        var huge = [UInt64](repeating: 0, count: 1)
        var served = 0
        #expect(llfree_get(c.pointer, 0, 7, LLFREE_KIND_FIXED, &small, &served, nil) == LLFREE_OK)
        #expect(llfree_get(c.pointer, 9, 1, LLFREE_KIND_HUGE, &huge, &served, nil) == LLFREE_OK)

        var page = [UInt64](repeating: 0, count: 3)
        var count = 0
        var next: UInt64 = 0
        #expect(llfree_list(c.pointer, "", 0, 3, &page, &count, &next) == LLFREE_OK)
        #expect(count == 3 && next != listEnd)
        let all = try CClient.runs(c, limit: 3)
        #expect(all.count == 8)
        #expect(all == all.sorted())
        #expect(Set(all) == Set(small.map { $0 } + [huge[0] | 9 << 56]))
        // By name, as another connection of a peer that may act for it.
        let other = try CClient.connected(daemon)
        var named = [UInt64](repeating: 0, count: 16)
        #expect(llfree_list(other.pointer, "c-list", 0, 16, &named, &count, &next) == LLFREE_OK)
        #expect(count == 8 && next == listEnd)

        var runs: UInt64 = 0, framesFreed: UInt64 = 0
        #expect(llfree_release(c.pointer, nil, &runs, &framesFreed) == LLFREE_OK)
        #expect(runs == 8 && framesFreed == 7 + 512)
        #expect(try CClient.runs(c).isEmpty)
    }

    @Test func theRootIsSwappedOnlyFromTheValueExpectedAndKeptAcrossConnections() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let zero = [UInt8](repeating: 0, count: 64)
        let first = (0..<64).map { UInt8($0) }, second = [UInt8](repeating: 0xAB, count: 64)
        do {
            let c = try CClient.connected(daemon, owner: "c-root")
            var root = [UInt8](repeating: 1, count: 64)
            #expect(llfree_root_get(c.pointer, &root) == LLFREE_OK)
            #expect(root == zero)
            var swapped = false
            var current = [UInt8](repeating: 0, count: 64)
            #expect(llfree_root_cas(c.pointer, zero, first, &swapped, &current) == LLFREE_OK)
            #expect(swapped && current == first)
            #expect(llfree_root_cas(c.pointer, zero, second, &swapped, &current) == LLFREE_OK)
            #expect(!swapped && current == first)
        }
        let again = try CClient.connected(daemon, owner: "c-root")
        var root = [UInt8](repeating: 0, count: 64)
        #expect(llfree_root_get(again.pointer, &root) == LLFREE_OK)
        #expect(root == first)
    }

    @Test func statsAndPing() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-stats")
        #expect(llfree_ping(c.pointer) == LLFREE_OK)
        var frames = [UInt64](repeating: 0, count: 3)
        var served = 0
        #expect(llfree_get(c.pointer, 0, 3, LLFREE_KIND_FIXED, &frames, &served, nil) == LLFREE_OK)
        var stats = llfree_stats()
        #expect(llfree_stats_get(c.pointer, &stats) == LLFREE_OK)
        #expect(stats.frames == 16384 && stats.free_frames == 16384 - 3)
        #expect(stats.frames_allocated == 3 && stats.connections_open >= 1 && stats.connections_admitted >= 1)
        #expect(stats.orders == 15)  // the geometry limit 14, plus one
        #expect(stats.trees >= 1 && stats.requests_answered >= 3)
        let swift = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { swift.close() }
        let expected = try swift.stats()
        #expect(CClient.bytes(stats.free_runs).count == 64 * 8)
        withUnsafeBytes(of: stats.free_runs) { raw in
            let runs = raw.bindMemory(to: UInt64.self)
            #expect(Array(runs.prefix(Int(stats.orders))) == expected.freeRuns)
        }
    }
}
