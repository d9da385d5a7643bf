// The owner requests of protocol version 2 (attach, list, release, root, owner info and list,
// removal, quota) and the owner every get and put acts for. Every check runs before the table or
// the allocator is touched, so a refused request changes nothing.

import LLFree
import LLFreePool
import LLFreeProtocol

extension RequestProcessor {
    /// The owner a get or put of `session` acts for: the attached one; on a connection that has
    /// not attached, the owner named after the peer's uid (created, persistent, on first use).
    /// nil when the pool has no owners (every connection is the legacy owner).
    func actingOwner(_ session: inout ClientSession) throws(ReplyError) -> OwnerRecord? {
        guard let owners else { return nil }
        if let owner = session.owner { return owner }
        guard session.version < 2 else {
            throw ReplyError(.notAttached, "a version-2 connection attaches to an owner before it gets, puts, lists or uses a root; nothing was changed")
        }
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
        ReplyError(.notPermitted, "this pool has no owners (format version 1): every connection acts for the legacy owner; upgrade it with `llfree-ctl upgrade`")
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
            }
            counters.add(.framesFreed, frames, core: core)
            guard let next else { break }
            from = next
        }
        return (runs, frames)
    }

    func answerOwnerRequest(_ request: Request, session: inout ClientSession) -> Reply {
        .error(op: request.operation.rawValue, ReplyError(.unknownOperation, "\(request.operation) is not served yet"))
    }
}
