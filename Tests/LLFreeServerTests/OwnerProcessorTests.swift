// The request processor with owners, in process: a volatile allocator with owner tags and an owner
// table in memory. Who may attach to which owner, what each refusal says, and that a refused
// request changes neither the table nor the frames; list pagination and release.

import LLFree
import LLFreePool
import LLFreeProtocol
import LLFreeTestSupport
import Testing
@testable import LLFreeServer

/// A volatile LLFree with owner tags and an owner table of `capacity` entries, both in memory
/// owned by this object.
final class OwnedAllocator {
    let region: UnsafeMutableRawPointer
    let tableRegion: UnsafeMutableRawPointer
    let llfree: LLFree<VolatilePersistence>
    let table: OwnerTable<VolatilePersistence>

    init(frames: UInt64, capacity: Int, cores: Int = 2) throws {
        let geometry = try Geometry(frames: frames, treeChildren: 8, owners: true)
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        let lower = Lower(geometry: geometry, region: region, persistence: VolatilePersistence())
        lower.format()
        llfree = try LLFree(lower: lower, cores: cores, settled: true)
        tableRegion = .allocate(byteCount: capacity * OwnerTableLayout.entrySize, alignment: 64)
        tableRegion.initializeMemory(as: UInt8.self, repeating: 0xA5, count: capacity * OwnerTableLayout.entrySize)
        table = OwnerTable.formatted(in: tableRegion, capacity: capacity, persistence: VolatilePersistence())
    }

    deinit {
        region.deallocate()
        tableRegion.deallocate()
    }
}

@Suite struct OwnerProcessorTests {
    static let adminUID: UInt32 = 500
    static let pool = PoolDescription(path: "/tmp/owners.pool", uuid: Array(repeating: 3, count: 16), framesOffset: 1 << 21, durability: .volatile)

    let memory: OwnedAllocator
    let service: OwnerService
    let processor: RequestProcessor<LLFree<VolatilePersistence>>

    init() throws {
        try self.init(capacity: 16)
    }

    init(capacity: Int) throws {
        memory = try OwnedAllocator(frames: 16 * 512, capacity: capacity)
        service = OwnerService(store: memory.table, admins: [Self.adminUID])
        processor = RequestProcessor(allocator: memory.llfree, core: 0, pool: Self.pool, counters: ServerCounters(cores: 2), owners: service)
    }

    static func session(uid: UInt32) -> ClientSession {
        ClientSession(peer: PeerCredentials(pid: 1, uid: uid, gid: uid, groups: .known([])))
    }

    func reply(_ request: Request, _ session: inout ClientSession) -> Reply {
        processor.process(RequestMessage(id: 1, request), session: &session).reply
    }

    /// Attaches `session` to `name` (persistent, created) and returns the owner's info.
    @discardableResult
    func attach(_ name: String, _ session: inout ClientSession, kind: WireOwnerKind = .persistent, quota: UInt64 = 0) throws -> OwnerInfo {
        let r = reply(.attach(name: name, kind: kind, create: true, quota: quota), &session)
        guard case .attach(let info) = r else { throw TestFailure("attach \(name): \(r)") }
        return info
    }

    func get(order: UInt8, count: UInt32, _ session: inout ClientSession) throws -> [UInt64] {
        let r = reply(.get(order: order, count: count, kind: .fixed), &session)
        guard case .get(let got) = r, got.shortfall == nil else { throw TestFailure("get: \(r)") }
        return got.frames
    }

    /// Everything a refused request must leave as it was: the table's owners, their roots,
    /// connections and held frames, and the allocator's free counts.
    struct Snapshot: Equatable {
        var owners: [OwnerRecord]
        var roots: [[UInt8]]
        var connections: [Int]
        var held: [Int]
        var free: [Int]
    }

    func snapshot() -> Snapshot {
        let owners = memory.table.owners
        let g = memory.llfree.geometry
        return Snapshot(owners: owners, roots: owners.map { (try? memory.table.root($0.id)) ?? [] },
                        connections: owners.map { service.connections(of: $0.id) },
                        held: owners.map { memory.llfree.held(by: $0.id) },
                        free: [memory.llfree.freeFrames] + (0...g.maxOrder).map { memory.llfree.freeRuns(order: $0) })
    }

    func expectRefused(_ request: Request, _ session: inout ClientSession, _ code: ErrorCode,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let before = snapshot()
        let owner = session.owner
        let r = reply(request, &session)
        guard case .error(let op, let error) = r else {
            Issue.record("\(request) was not refused: \(r)", sourceLocation: sourceLocation)
            return
        }
        #expect(op == request.operation.rawValue, sourceLocation: sourceLocation)
        #expect(error.code == code, "\(request): \(error)", sourceLocation: sourceLocation)
        #expect(snapshot() == before, "\(request) changed something", sourceLocation: sourceLocation)
        #expect(session.owner == owner, "\(request) moved the connection", sourceLocation: sourceLocation)
    }

    // MARK: Attach

    @Test func attachCreatesAnOwnerOnceAndCountsConnections() throws {
        var first = Self.session(uid: 1000), second = Self.session(uid: 1000)
        let created = try attach("store", &first)
        #expect(created.created && created.name == "store" && created.kind == .persistent && created.uid == 1000)
        #expect(created.held == 0 && created.quota == nil && created.connections == 1)
        let again = try attach("store", &second)
        #expect(!again.created && again.id == created.id && again.connections == 2)
        #expect(first.owner?.id == created.id && second.owner?.id == created.id)
        processor.closed(second)
        #expect(service.connections(of: created.id) == 1)
    }

    @Test func anotherUsersOwnerIsNotPermittedWithoutAdminRight() throws {
        var alice = Self.session(uid: 1000), bob = Self.session(uid: 1001)
        let store = try attach("alice", &alice)
        let frames = try get(order: 0, count: 4, &alice)
        expectRefused(.attach(name: "alice", kind: .persistent, create: true, quota: 0), &bob, .notPermitted)
        expectRefused(.list(owner: "alice", from: 0, limit: 100), &bob, .notPermitted)
        expectRefused(.release(owner: "alice"), &bob, .notPermitted)
        expectRefused(.ownerInfo(owner: "alice"), &bob, .notPermitted)
        expectRefused(.removeOwner(owner: "alice"), &bob, .notPermitted)
        expectRefused(.setQuota(owner: "alice", quota: 1), &bob, .notPermitted)
        // Bob acts for his own owner, uid-1001: a put of Alice's frames is his to make, and refused per run.
        guard case .put(let put) = reply(.put(order: 0, frames: frames), &bob) else { Issue.record("put failed"); return }
        #expect(put.results == Array(repeating: .notOwner, count: 4))
        #expect(memory.llfree.held(by: store.id) == 4)
        // Setting a quota needs the admin right even on one's own owner.
        expectRefused(.setQuota(owner: "", quota: 1), &alice, .notPermitted)
        // An admin may act for anyone's owner.
        var admin = Self.session(uid: Self.adminUID)
        let attached = try attach("alice", &admin)
        #expect(attached.id == store.id && !attached.created && attached.connections == 2)
        guard case .setQuota(let quota) = reply(.setQuota(owner: "alice", quota: 10), &admin) else { Issue.record("quota refused"); return }
        #expect(quota.quota == 10)
        guard case .list(let listed) = reply(.list(owner: "alice", from: 0, limit: 100), &admin) else { Issue.record("list refused"); return }
        #expect(listed.runs.map(\.frame).sorted() == frames.sorted() && listed.next == nil)
    }

    @Test func attachingWithTheOtherKindIsOwnerBusy() throws {
        var a = Self.session(uid: 1000), b = Self.session(uid: 1000)
        try attach("cache", &a, kind: .ephemeral)
        try attach("store", &a)
        expectRefused(.attach(name: "cache", kind: .persistent, create: true, quota: 0), &b, .ownerBusy)
        expectRefused(.attach(name: "store", kind: .ephemeral, create: true, quota: 0), &b, .ownerBusy)
        #expect(b.owner == nil)
    }

    @Test func badNamesAreMalformedAndUnknownOnesRefused() throws {
        var s = Self.session(uid: 1000)
        for name in ["", String(repeating: "n", count: 65), "a\u{0}b"] {
            expectRefused(.attach(name: name, kind: .persistent, create: true, quota: 0), &s, .malformed)
        }
        try attach(String(repeating: "n", count: 64), &s)
        expectRefused(.attach(name: "nobody", kind: .persistent, create: false, quota: 0), &s, .unknownOwner)
        expectRefused(.ownerInfo(owner: "nobody"), &s, .unknownOwner)
        expectRefused(.list(owner: "nobody", from: 0, limit: 10), &s, .unknownOwner)
        expectRefused(.release(owner: "nobody"), &s, .unknownOwner)
        expectRefused(.removeOwner(owner: "nobody"), &s, .unknownOwner)
    }

    @Test func aFullTableRefusesTheNextOwner() throws {
        let small = try OwnerProcessorTests(capacity: 3)
        var s = Self.session(uid: 1000)
        for name in ["one", "two", "three"] { try small.attach(name, &s) }
        small.expectRefused(.attach(name: "four", kind: .persistent, create: true, quota: 0), &s, .ownerTableFull)
        // The implicit owner of a connection that never attached needs an entry too: its get
        // is refused before any frame is allocated.
        var fresh = Self.session(uid: 1002)
        small.expectRefused(.get(order: 0, count: 1, kind: .fixed), &fresh, .ownerTableFull)
        #expect(fresh.owner == nil)
    }

    @Test func aConnectionThatNeverAttachedActsForItsUidOwner() throws {
        var s = Self.session(uid: 1234)
        let frames = try get(order: 1, count: 3, &s)
        #expect(s.owner?.name == "uid-1234")
        guard case .ownerInfo(let info) = reply(.ownerInfo(owner: ""), &s) else { Issue.record("info refused"); return }
        #expect(info.name == "uid-1234" && info.held == 6 && info.uid == 1234)
        guard case .list(let listed) = reply(.list(owner: "uid-1234", from: 0, limit: 10), &s) else { Issue.record("list refused"); return }
        #expect(listed.runs == frames.sorted().map { WireRun(frame: $0, order: 1) })
    }

    // MARK: List and release

    @Test func listPagesThroughEveryRunInFrameOrder() throws {
        var s = Self.session(uid: 1000)
        try attach("pages", &s)
        let small = try get(order: 0, count: 7, &s)
        let large = try get(order: 3, count: 5, &s)
        let expected = (small.map { WireRun(frame: $0, order: 0) } + large.map { WireRun(frame: $0, order: 3) }).sorted { $0.frame < $1.frame }
        var listed = [WireRun](), from: UInt64 = 0, pages = 0
        while true {
            guard case .list(let page) = reply(.list(owner: "", from: from, limit: 5), &s) else { Issue.record("list refused"); return }
            #expect(page.runs.count <= 5)
            listed += page.runs
            pages += 1
            guard let next = page.next else { break }
            #expect(next > from)
            from = next
            if pages > 10 { Issue.record("list does not end"); return }
        }
        #expect(listed == expected)
        #expect(pages == 3)
    }

    @Test func releaseFreesEverythingAndRemoveNeedsItFirst() throws {
        var s = Self.session(uid: 1000), other = Self.session(uid: 1000)
        let before = memory.llfree.freeFrames
        let owner = try attach("held", &s)
        _ = try get(order: 0, count: 10, &s)
        _ = try get(order: 4, count: 2, &s)
        processor.closed(s)
        expectRefused(.removeOwner(owner: "held"), &other, .ownerBusy)
        guard case .release(let released) = reply(.release(owner: "held"), &other) else { Issue.record("release refused"); return }
        #expect(released == ReleaseResult(runs: 12, frames: 42))
        #expect(memory.llfree.freeFrames == before && memory.llfree.held(by: owner.id) == 0)
        // Releasing again frees nothing.
        #expect(reply(.release(owner: "held"), &other) == .release(ReleaseResult(runs: 0, frames: 0)))
        #expect(reply(.removeOwner(owner: "held"), &other) == .removeOwner)
        #expect(memory.table.owner(named: "held") == nil)
        #expect(memory.llfree.validate().isEmpty)
    }

    @Test func theLastConnectionOfAnEphemeralOwnerFreesItsFrames() throws {
        var a = Self.session(uid: 1000), b = Self.session(uid: 1000)
        let before = memory.llfree.freeFrames
        let owner = try attach("scratch", &a, kind: .ephemeral)
        try attach("scratch", &b, kind: .ephemeral)
        _ = try get(order: 2, count: 3, &a)
        processor.closed(a)
        #expect(memory.llfree.held(by: owner.id) == 12)
        processor.closed(b)
        #expect(memory.llfree.held(by: owner.id) == 0 && memory.llfree.freeFrames == before)
    }

    // MARK: Quota and root

    /// The quota is set on another connection after this one attached: it applies at once.
    @Test func aGetBeyondTheQuotaIsServedUpToIt() throws {
        var s = Self.session(uid: 1000), admin = Self.session(uid: Self.adminUID)
        try attach("limited", &s)
        guard case .setQuota(let info) = reply(.setQuota(owner: "limited", quota: 10), &admin) else { Issue.record("quota refused"); return }
        #expect(info.quota == 10)
        guard case .get(let got) = reply(.get(order: 1, count: 8, kind: .fixed), &s) else { Issue.record("get refused"); return }
        #expect(got.frames.count == 5 && got.shortfall == .quotaExceeded)
        guard case .get(let none) = reply(.get(order: 0, count: 1, kind: .fixed), &s) else { Issue.record("get refused"); return }
        #expect(none.frames.isEmpty && none.shortfall == .quotaExceeded)
    }

    @Test func rootCompareAndSetSwapsOnlyFromTheExpectedValue() throws {
        var s = Self.session(uid: 1000)
        try attach("rooted", &s)
        #expect(reply(.rootGet, &s) == .rootGet(.zero))
        let one = RootValue(word: 1), two = RootValue(word: 2)
        #expect(reply(.rootSet(expected: .zero, new: one), &s) == .rootSet(RootSwap(swapped: true, current: one)))
        let before = snapshot()
        #expect(reply(.rootSet(expected: .zero, new: two), &s) == .rootSet(RootSwap(swapped: false, current: one)))
        #expect(snapshot() == before)
        #expect(reply(.rootGet, &s) == .rootGet(one))
    }

    @Test func ownersListsEveryOwnerWithItsHeldFrames() throws {
        var a = Self.session(uid: 1000), b = Self.session(uid: 1001)
        try attach("a", &a)
        try attach("b", &b)
        _ = try get(order: 0, count: 3, &a)
        _ = try get(order: 1, count: 1, &b)
        guard case .owners(let first) = reply(.owners(from: 0, limit: 1), &b) else { Issue.record("owners refused"); return }
        #expect(first.owners.map(\.name) == ["a"] && first.next != nil)
        guard case .owners(let rest) = reply(.owners(from: first.next!, limit: 10), &b) else { Issue.record("owners refused"); return }
        #expect(rest.owners.map(\.name) == ["b"] && rest.next == nil)
        #expect((first.owners + rest.owners).map(\.held) == [3, 2])
    }
}
