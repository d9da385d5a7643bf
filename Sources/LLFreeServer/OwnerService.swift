// The server's side of owners: who may act for which owner, attach and detach of connections
// (the last detach of an ephemeral owner frees its frames), quota reservations, and the checks
// every owner request runs before the table is touched. Shared by all event loops.

import Atomics
import LLFree
import LLFreePool
import LLFreeProtocol
import Synchronization

/// Owners as the server serves them: the durable table plus what is live (connections per owner,
/// frames of gets in flight against quotas).
public final class OwnerService: @unchecked Sendable {
    /// The pool's owner table.
    public let store: any OwnerStore
    /// Users who may act for any owner: attach to it, list, release, set quotas, remove.
    public let admins: Set<UInt32>
    /// Whether an admitted peer that is not an admin may create owners.
    public let anyoneCreates: Bool
    /// Connections attached per owner; the lock every attach, detach and removal takes.
    private let connections = Mutex<[OwnerID: Int]>([:])
    /// Per owner number, frames of gets in flight (counted against its quota until they land).
    private let inflight: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    /// Per owner number, its quota in frames (0: none), read by every get without a lock.
    private let quotas: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    public init(store: any OwnerStore, admins: Set<UInt32>, anyoneCreates: Bool = true) {
        self.store = store
        self.admins = admins
        self.anyoneCreates = anyoneCreates
        inflight = .allocate(capacity: Int(Owners.maxOwner) + 1)
        inflight.initialize(repeating: .init(0), count: Int(Owners.maxOwner) + 1)
        quotas = .allocate(capacity: Int(Owners.maxOwner) + 1)
        quotas.initialize(repeating: .init(0), count: Int(Owners.maxOwner) + 1)
        for owner in store.owners { UnsafeAtomic<UInt64>(at: quotas + Int(owner.id)).store(owner.quota ?? 0, ordering: .relaxed) }
    }

    deinit {
        inflight.deallocate()
        quotas.deallocate()
    }

    /// Owner `id`'s quota now (nil: none).
    public func quota(of id: OwnerID) -> UInt64? {
        let q = UnsafeAtomic<UInt64>(at: quotas + Int(id)).load(ordering: .relaxed)
        return q == 0 ? nil : q
    }

    /// Sets owner `id`'s quota, durably, for every connection's next get.
    public func setQuota(_ id: OwnerID, _ quota: UInt64?) throws(ReplyError) -> OwnerRecord {
        do throws(OwnerTableError) {
            let record = try store.setQuota(id, quota)
            UnsafeAtomic<UInt64>(at: quotas + Int(id)).store(quota ?? 0, ordering: .relaxed)
            return record
        } catch {
            throw Self.reply(error)
        }
    }

    // MARK: Rights

    /// Whether `peer` is an administrator.
    public func isAdmin(_ peer: PeerCredentials) -> Bool { admins.contains(peer.uid) }

    /// Whether `peer` may act for `owner`: its uid, a member of its gid, or an administrator.
    public func mayAct(for owner: OwnerRecord, peer: PeerCredentials) -> Bool {
        if peer.uid == owner.uid || isAdmin(peer) { return true }
        guard let gid = owner.gid else { return false }
        if peer.gid == gid { return true }
        if case .known(let groups) = peer.groups { return groups.contains(gid) }
        return false
    }

    // MARK: Attach

    /// Attaches a connection of `peer` to the owner `name`, creating it (persistent or
    /// ephemeral, with `quota`) if it does not exist and `create` is set.
    /// - Returns: the owner and whether this attach created it.
    /// - Throws: a ``ReplyError`` saying what was wrong; nothing changed then.
    public func attach(name: String, lifetime: OwnerLifetime, create: Bool, quota: UInt64?,
                       peer: PeerCredentials) throws(ReplyError) -> (owner: OwnerRecord, created: Bool) {
        try connections.withLock { connections throws(ReplyError) -> (owner: OwnerRecord, created: Bool) in
            if let owner = store.owner(named: name) {
                guard mayAct(for: owner, peer: peer) else {
                    throw ReplyError(.notPermitted, "peer uid \(peer.uid) may not act for owner \"\(name)\" (uid \(owner.uid)\(owner.gid.map { ", gid \($0)" } ?? "")); not attached")
                }
                guard owner.lifetime == lifetime else {
                    throw ReplyError(.ownerBusy, "owner \"\(name)\" exists and is \(owner.lifetime), not \(lifetime); not attached")
                }
                connections[owner.id, default: 0] += 1
                return (owner, false)
            }
            guard create else { throw ReplyError(.unknownOwner, "no owner is named \"\(name)\" and the attach does not create one") }
            // "uid-N" is the owner every connection of uid N acts for until it attaches: only
            // that uid (or an administrator) may create it, so nobody can take it first.
            if name.hasPrefix(ClientSession.implicitOwnerPrefix), name != ClientSession.implicitOwnerName(uid: peer.uid), !isAdmin(peer) {
                throw ReplyError(.notPermitted, "names starting \"\(ClientSession.implicitOwnerPrefix)\" are reserved for the owner of that uid; peer uid \(peer.uid) may not create \"\(name)\"")
            }
            guard anyoneCreates || isAdmin(peer) else {
                throw ReplyError(.notPermitted, "peer uid \(peer.uid) may not create owners (the policy lets administrators only); nothing was created")
            }
            do throws(OwnerTableError) {
                let owner = try store.create(name: name, lifetime: lifetime, quota: quota, uid: peer.uid, gid: nil)
                UnsafeAtomic<UInt64>(at: quotas + Int(owner.id)).store(quota ?? 0, ordering: .relaxed)
                connections[owner.id, default: 0] += 1
                return (owner, true)
            } catch {
                throw Self.reply(error)
            }
        }
    }

    /// Detaches one connection from `owner`. Returns true if it was the owner's last connection
    /// and the owner is ephemeral: then the caller frees its frames.
    public func detach(_ owner: OwnerRecord) -> Bool {
        connections.withLock { connections in
            let left = (connections[owner.id] ?? 1) - 1
            connections[owner.id] = left > 0 ? left : nil
            return left <= 0 && owner.lifetime == .ephemeral
        }
    }

    /// Connections attached to owner `id` now.
    public func connections(of id: OwnerID) -> Int { connections.withLock { $0[id] ?? 0 } }

    /// Removes owner `name` if `peer` may act for it, no connection is attached and `held` says
    /// it holds nothing.
    public func remove(name: String, peer: PeerCredentials, held: (OwnerID) -> Int) throws(ReplyError) {
        try connections.withLock { connections throws(ReplyError) in
            guard let owner = store.owner(named: name) else { throw ReplyError(.unknownOwner, "no owner is named \"\(name)\"; nothing was removed") }
            guard mayAct(for: owner, peer: peer) else {
                throw ReplyError(.notPermitted, "peer uid \(peer.uid) may not act for owner \"\(name)\"; nothing was removed")
            }
            let attached = connections[owner.id] ?? 0
            let frames = held(owner.id)
            guard attached == 0, frames == 0, inflightFrames(owner.id) == 0 else {
                throw ReplyError(.ownerBusy, "owner \"\(name)\" holds \(frames) frames and has \(attached) connections; release them first; nothing was removed")
            }
            do throws(OwnerTableError) { try store.remove(owner.id) } catch { throw Self.reply(error) }
        }
    }

    // MARK: Quota

    /// Reserves up to `frames` frames of a get for `owner`, which holds `held` now: all of them
    /// without a quota, else at most what the quota leaves. Returns the frames the get may take
    /// and those reserved against the quota; the caller gives the reserved ones back with
    /// ``unreserve(_:_:)`` once the frames it got are counted as held (so that two gets in
    /// flight never exceed the quota together).
    public func reserve(_ owner: OwnerRecord, frames: Int, held: () -> Int) -> (granted: Int, reserved: Int) {
        guard let quota = self.quota(of: owner.id).map({ Int(clamping: $0) }) else { return (frames, 0) }
        let counter = UnsafeAtomic<Int>(at: inflight + Int(owner.id))
        var pending = counter.load(ordering: .acquiring)
        while true {
            let granted = max(0, min(frames, quota - held() - pending))
            if granted == 0 { return (0, 0) }
            let (done, now) = counter.weakCompareExchange(expected: pending, desired: pending + granted, ordering: .acquiringAndReleasing)
            if done { return (granted, granted) }
            pending = now
        }
    }

    /// Gives back frames reserved by ``reserve(_:frames:held:)`` (all of them, once the frames
    /// got are counted as held).
    public func unreserve(_ owner: OwnerRecord, _ frames: Int) {
        guard frames > 0 else { return }
        UnsafeAtomic<Int>(at: inflight + Int(owner.id)).wrappingDecrement(by: frames, ordering: .acquiringAndReleasing)
    }

    private func inflightFrames(_ id: OwnerID) -> Int { UnsafeAtomic<Int>(at: inflight + Int(id)).load(ordering: .acquiring) }

    /// The wire error for a refusal of the table.
    static func reply(_ error: OwnerTableError) -> ReplyError {
        switch error {
        case .invalidName: return ReplyError(.malformed, error.description)
        case .exists: return ReplyError(.ownerBusy, error.description)
        case .full: return ReplyError(.ownerTableFull, error.description)
        case .unknown: return ReplyError(.unknownOwner, error.description)
        }
    }
}
