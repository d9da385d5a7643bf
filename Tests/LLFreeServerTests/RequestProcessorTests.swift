// The request processor against a real volatile allocator: every operation's reply, and every
// bad request refused without changing the allocator's state.

import LLFree
import LLFreeTestSupport
import LLFreeProtocol
import Testing
@testable import LLFreeServer

@Suite struct RequestProcessorTests {
    let memory: VolatileAllocator
    let processor: RequestProcessor<LLFree<VolatilePersistence>>
    static let pool = VolatileAllocator.pool

    init() throws {
        memory = try VolatileAllocator(frames: 16 * 512)  // 32 MiB, 2 trees of 8 children
        processor = RequestProcessor(allocator: memory.llfree, core: 1, pool: Self.pool, counters: ServerCounters(cores: 2))
    }

    func reply(_ request: Request, id: UInt64 = 5) -> Reply {
        var session = ClientSession(peer: PeerCredentials(pid: 1, uid: 1000, gid: 1000))
        let r = processor.process(RequestMessage(id: id, request), session: &session)
        #expect(r.id == id)
        return r.reply
    }

    /// The allocator's observable state: free frames and every run's freedom at orders 0 and 9.
    func snapshot() -> [Int] {
        let g = memory.llfree.geometry
        return [memory.llfree.freeFrames, memory.llfree.freeHugeFrames] + (0...g.maxOrder).map { memory.llfree.freeRuns(order: $0) }
    }

    @Test func helloDescribesThePool() {
        guard case .hello(let info) = reply(.hello(minVersion: 1, maxVersion: 9)) else { Issue.record("not hello"); return }
        #expect(info.frames == 16 * 512)
        #expect(info.maxOrder == 12)
        #expect(info.trees == 2 && info.treeChildren == 8 && info.children == 16)
        #expect(info.framesOffset == 1 << 21 && info.path == "/tmp/test.pool" && info.durability == .volatile)
        #expect(info.cores == 2 && info.maxBatch == UInt32(Wire.maxBatch))
    }

    /// Hello negotiates within 1...3 (protocol version 2 added the owner operations, 3 the
    /// frames descriptor): a range that does not meet it is refused, one that does gets its
    /// largest common version.
    @Test func helloOutsideTheSupportedVersionsIsRefused() {
        for (low, high) in [(UInt16(4), UInt16(5)), (0, 0)] {
            guard case .error(let op, let error) = reply(.hello(minVersion: low, maxVersion: high)) else { Issue.record("\(low)...\(high) accepted"); continue }
            #expect(op == Operation.hello.rawValue && error.code == .unsupportedVersion)
        }
        guard case .hello(let two) = reply(.hello(minVersion: 1, maxVersion: 2)) else { Issue.record("1...2 refused"); return }
        #expect(two.version == 2)
        guard case .hello(let three) = reply(.hello(minVersion: 2, maxVersion: 9)) else { Issue.record("2...9 refused"); return }
        #expect(three.version == 3)
        guard case .hello(let one) = reply(.hello(minVersion: 1, maxVersion: 1)) else { Issue.record("1...1 refused"); return }
        #expect(one.version == 1)
    }

    @Test func getThenPutRestoresEverything() throws {
        let before = snapshot()
        guard case .get(let got) = reply(.get(order: 3, count: 10, kind: .movable)) else { Issue.record("get failed"); return }
        #expect(got.frames.count == 10 && got.shortfall == nil)
        #expect(Set(got.frames).count == 10)
        for frame in got.frames {
            #expect(frame % 8 == 0)
            #expect(try !memory.llfree.isFree(frame, order: 3))
        }
        guard case .put(let put) = reply(.put(order: 3, frames: got.frames)) else { Issue.record("put failed"); return }
        #expect(put.results == Array(repeating: nil, count: 10))
        #expect(snapshot() == before)
        guard case .stats(let stats) = reply(.stats) else { Issue.record("stats failed"); return }
        #expect(stats.framesAllocated == 80 && stats.framesFreed == 80 && stats.operationsServed == 3)
    }

    @Test func aBatchLargerThanThePoolIsServedPartly() {
        guard case .get(let got) = reply(.get(order: 9, count: 20, kind: .huge)) else { Issue.record("get failed"); return }
        #expect(got.frames.count == 16)
        #expect(got.shortfall == .outOfMemory)
        guard case .get(let none) = reply(.get(order: 9, count: 1, kind: .fixed)) else { Issue.record("get failed"); return }
        #expect(none.frames.isEmpty && none.shortfall == .outOfMemory)
    }

    @Test func orderBeyondThePoolIsRefusedAndChangesNothing() {
        let before = snapshot()
        for request in [Request.get(order: 13, count: 1, kind: .fixed), .put(order: 13, frames: [0]), .isFree(order: 63, frame: 0)] {
            guard case .error(_, let error) = reply(request) else { Issue.record("\(request) accepted"); continue }
            #expect(error.code == .invalidOrder)
        }
        #expect(snapshot() == before)
    }

    @Test func putOfBadFramesReportsEachAndFreesTheRest() throws {
        guard case .get(let got) = reply(.get(order: 0, count: 2, kind: .fixed)) else { Issue.record("get failed"); return }
        let before = snapshot()
        let frames: [UInt64] = [got.frames[0], 16 * 512, UInt64.max, got.frames[0], got.frames[1]]
        guard case .put(let put) = reply(.put(order: 0, frames: frames)) else { Issue.record("put failed"); return }
        // Out of range twice, then a double free of the first frame within the same batch.
        #expect(put.results == [nil, .invalidFrame, .invalidFrame, .notAllocated, nil])
        #expect(snapshot()[0] == before[0] + 2)
    }

    @Test func doubleFreeAndMisalignedPutChangeNothing() throws {
        guard case .get(let got) = reply(.get(order: 2, count: 1, kind: .fixed)) else { Issue.record("get failed"); return }
        let frame = got.frames[0]
        let before = snapshot()
        guard case .put(let misaligned) = reply(.put(order: 2, frames: [frame + 1])) else { Issue.record("put failed"); return }
        #expect(misaligned.results == [.misaligned])
        guard case .put(let wrongOrder) = reply(.put(order: 0, frames: [frame + 4])) else { Issue.record("put failed"); return }
        #expect(wrongOrder.results == [.notAllocated])
        #expect(snapshot() == before)
        guard case .put(let ok) = reply(.put(order: 2, frames: [frame])) else { Issue.record("put failed"); return }
        #expect(ok.results == [nil])
        let freed = snapshot()
        guard case .put(let again) = reply(.put(order: 2, frames: [frame])) else { Issue.record("put failed"); return }
        #expect(again.results == [.notAllocated])
        #expect(snapshot() == freed)
        #expect(memory.llfree.validate().isEmpty)
    }

    @Test func isFreeChecksRangeAndAlignment() {
        #expect(reply(.isFree(order: 0, frame: 0)) == .isFree(true))
        guard case .error(_, let range) = reply(.isFree(order: 0, frame: 16 * 512)) else { Issue.record("accepted"); return }
        #expect(range.code == .invalidFrame)
        guard case .error(_, let aligned) = reply(.isFree(order: 3, frame: 4)) else { Issue.record("accepted"); return }
        #expect(aligned.code == .misaligned)
        #expect(reply(.isFree(order: 12, frame: 4096)) == .isFree(true))  // the last run that fits
    }

    @Test func statsSummariseTrees() {
        _ = reply(.get(order: 9, count: 8, kind: .huge))
        guard case .stats(let stats) = reply(.stats) else { Issue.record("stats failed"); return }
        #expect(stats.frames == 8192 && stats.freeFrames == 4096 && stats.freeHugeFrames == 8)
        #expect(stats.trees.trees == 2 && stats.trees.free + stats.trees.full + stats.trees.partial == 2)
        #expect(stats.freeRuns.count == 13 && stats.freeRuns[0] == 4096)
    }

    @Test func refusedDecodingIsCountedAndAddressed() {
        let r = processor.refuse(ProtocolError(.unknownOperation, "op 0x42", id: 9, op: 0x42))
        #expect(r == ReplyMessage(id: 9, .error(op: 0x42, ReplyError(.unknownOperation, "op 0x42"))))
        let framing = processor.refuse(ProtocolError(.tooLarge, "big", fatal: true))
        #expect(framing == ReplyMessage(id: 0, .error(op: Wire.framingErrorOp, ReplyError(.tooLarge, "big"))))
        #expect(processor.counters.total(.errors) == 2)
    }

    @Test func accessPolicyAdmitsByUidOrGid() {
        let policy = AccessPolicy(uids: [1000], gids: [50])
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 1000, gid: 1)) == nil)
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 50)) == nil)
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 7)) != nil)
    }
}
