// The owner requests of protocol version 2 (attach, list, release, root, owner info and list,
// removal, quota) and the owner every get and put acts for. Every check runs before the table or
// the allocator is touched, so a refused request changes nothing.

import LLFree
import LLFreePool
import LLFreeProtocol

extension RequestProcessor {
    /// The owner a get or put of `session` acts for: the attached one; on a connection that has
    /// not attached (every version-1 connection), the owner named after the peer's uid (created,
    /// persistent, on first use). nil when the pool has no owners (every connection is the
    /// legacy owner).
    func actingOwner(_ session: inout ClientSession) throws(ReplyError) -> OwnerRecord? {
        guard let owners else { return nil }
        if let owner = session.owner { return owner }
        let name = ClientSession.implicitOwnerName(uid: session.peer.uid)
        let (owner, _) = try owners.attach(name: name, lifetime: .persistent, create: true, quota: nil, peer: session.peer)
        session.owner = owner
        return owner
    }

    /// The owner a request names: `name`, or the attached owner when it is empty. Someone
    /// else's owner only if the peer may act for it.
    func namedOwner(_ name: String, _ session: inout ClientSession, _ owners: OwnerService) throws(ReplyError) -> OwnerRecord {
        if name.isEmpty {
            guard let owner = try actingOwner(&session) else { throw Self.noOwners }
            // Quota and root may have changed since the attach.
            return owners.store.owner(owner.id) ?? owner
        }
        guard let owner = owners.store.owner(named: name) else { throw ReplyError(.unknownOwner, "no owner is named \"\(name)\"") }
        guard owners.mayAct(for: owner, peer: session.peer) else {
            throw ReplyError(.notPermitted, "peer uid \(session.peer.uid) may not act for owner \"\(name)\"; nothing was changed")
        }
        return owner
    }

    static var noOwners: ReplyError {
        ReplyError(.notPermitted, "this pool has no owners (format version 1): every connection acts for the legacy owner; to have owners, format a new pool (docs/pool-format.md)")
    }

    /// Called when the connection of `session` closes: detaches it, and frees every frame of an
    /// ephemeral owner whose last connection this was.
    public func closed(_ session: ClientSession) {
        guard let owners, let owner = session.owner else { return }
        if owners.detach(owner) { _ = release(owner.id) }
    }

    /// Frees every run owner `id` holds, as that owner (a run another put freed meanwhile is
    /// skipped). A crash in the middle leaves each run owned or free; repeating finishes it.
    /// Returns the runs and frames freed.
    func release(_ id: OwnerID) -> (runs: UInt64, frames: UInt64) {
        var runs: UInt64 = 0, frames: UInt64 = 0
        var from: UInt64 = 0
        while true {
            let (found, next) = allocator.runs(of: id, from: from, limit: Wire.maxBatch)
            // One put per order, so each batch costs one fence per order present.
            var byOrder: [Int: [UInt64]] = [:]
            for run in found { byOrder[run.order, default: []].append(run.frame) }
            for (order, batch) in byOrder.sorted(by: { $0.key < $1.key }) {
                let freed = batch.withUnsafeBufferPointer { buffer in
                    allocator.put(frames: buffer, order: order, core: core, owner: id) { _, _ in }
                }
                runs += UInt64(freed)
                frames += UInt64(freed) << UInt64(order)
                counters.add(.framesFreed, UInt64(freed) << UInt64(order), core: core)
            }
            guard let next else { break }
            from = next
        }
        return (runs, frames)
    }

    /// What the daemon reports of `owner`.
    func info(_ owner: OwnerRecord, created: Bool = false, _ owners: OwnerService) -> OwnerInfo {
        OwnerInfo(id: owner.id, kind: WireOwnerKind(owner.lifetime), created: created, name: owner.name,
                  held: UInt64(max(0, allocator.held(by: owner.id))), quota: owners.quota(of: owner.id),
                  connections: UInt32(clamping: owners.connections(of: owner.id)), uid: owner.uid, gid: owner.gid)
    }

    func answerOwnerRequest(_ request: Request, session: inout ClientSession) -> Reply {
        do {
            return try ownerReply(request, session: &session)
        } catch {
            return .error(op: request.operation.rawValue, error)
        }
    }

    private func ownerReply(_ request: Request, session: inout ClientSession) throws(ReplyError) -> Reply {
        guard let owners else {
            // A version-1 pool: one legacy owner, which needs no attach and has no root.
            if case .attach(let name, _, _, _) = request, name == Self.legacyOwnerName {
                return .attach(OwnerInfo(id: 0, kind: .persistent, name: name, held: UInt64(allocator.geometry.frames) - UInt64(allocator.freeFrames),
                                         quota: nil, connections: 0, uid: session.peer.uid, gid: nil))
            }
            throw Self.noOwners
        }
        switch request {
        case .attach(let name, let kind, let create, let quota):
            let (owner, created) = try owners.attach(name: name, lifetime: OwnerLifetime(kind), create: create,
                                                     quota: quota == 0 ? nil : quota, peer: session.peer)
            // Re-attaching moves the connection: the previous owner loses it (and an ephemeral
            // one its frames, if it was the last).
            if let previous = session.owner, owners.detach(previous) { _ = release(previous.id) }
            session.owner = owner
            return .attach(info(owner, created: created, owners))

        case .list(let name, let from, let limit):
            let owner = try namedOwner(name, &session, owners)
            let (runs, next) = allocator.runs(of: owner.id, from: from, limit: Int(limit))
            return .list(ListResult(runs: runs.map { WireRun(frame: $0.frame, order: UInt8($0.order)) }, next: next))

        case .release(let name):
            let owner = try namedOwner(name, &session, owners)
            let (runs, frames) = release(owner.id)
            return .release(ReleaseResult(runs: runs, frames: frames))

        case .rootGet:
            let owner = try namedOwner("", &session, owners)
            do throws(OwnerTableError) {
                return .rootGet(RootValue(try owners.store.root(owner.id))!)
            } catch { throw OwnerService.reply(error) }

        case .rootSet(let expected, let new):
            let owner = try namedOwner("", &session, owners)
            do throws(OwnerTableError) {
                let (swapped, current) = try owners.store.compareAndSetRoot(owner.id, expected: expected.bytes, new: new.bytes)
                return .rootSet(RootSwap(swapped: swapped, current: RootValue(current)!))
            } catch { throw OwnerService.reply(error) }

        case .ownerInfo(let name):
            return .ownerInfo(info(try namedOwner(name, &session, owners), owners))

        case .owners(let from, let limit):
            // Every owner is listed to every admitted peer: names and usage are not secret, the
            // frames are (only those who may act for an owner can list or free them).
            let all = owners.store.owners.filter { $0.id >= from }
            let page = all.prefix(Int(limit))
            let next = all.count > page.count ? all[page.count].id : nil
            return .owners(OwnerList(owners: page.map { info($0, owners) }, next: next))

        case .removeOwner(let name):
            // Listing settles every tree first: only then is what an owner holds known exactly.
            try owners.remove(name: name, peer: session.peer, held: { id in
                _ = allocator.runs(of: id, from: 0, limit: 1)
                return allocator.held(by: id)
            })
            return .removeOwner

        case .setQuota(let name, let quota):
            let owner = try namedOwner(name, &session, owners)
            guard owners.isAdmin(session.peer) else {
                throw ReplyError(.notPermitted, "only an administrator sets quotas (peer uid \(session.peer.uid) is not one); the quota of \"\(owner.name)\" is unchanged")
            }
            let updated = try owners.setQuota(owner.id, quota == 0 ? nil : quota)
            return .setQuota(info(updated, owners))

        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring:
            preconditionFailure("\(request.operation) is not an owner request")
        }
    }

    /// The one owner of a version-1 pool: every connection acts for it.
    public static var legacyOwnerName: String { "legacy" }
}

extension WireOwnerKind {
    init(_ lifetime: OwnerLifetime) {
        switch lifetime {
        case .persistent: self = .persistent
        case .ephemeral: self = .ephemeral
        }
    }
}

extension OwnerLifetime {
    init(_ kind: WireOwnerKind) {
        switch kind {
        case .persistent: self = .persistent
        case .ephemeral: self = .ephemeral
        }
    }
}
