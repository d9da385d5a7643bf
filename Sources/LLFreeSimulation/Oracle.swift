// The oracle: what must be true of a pool recovered from a crash image, judged against what the
// clients were told. After reopening and settling every tree:
// - every acknowledged owner is live with its lifetime; its root is the acknowledged value (the
//   old or the new one while a compare-and-set is in flight);
// - every allocated frame lies in a run that `runs(of:)` lists for exactly one live persistent
//   owner, and every listed frame is allocated; `held(by:)` of every live owner equals the frames
//   listed for it; ephemeral owners hold nothing;
// - every acknowledged get of a persistent owner is still held by that owner; every frame an
//   operation in flight touches is free or held by the operation's owner (a get in flight may
//   leave one aligned run of its order to its owner); every acknowledged put is free;
// - held huge runs are still huge runs; counters equal the bitfields.
// Leaked frames (allocated but listed by no live persistent owner, or listed where the ledger
// says free) must be 0.

import LLFree
import LLFreePool

/// The verdict on one recovered pool.
public struct Verdict: Sendable {
    /// What is wrong; empty when the pool is correct.
    public var violations: [String] = []
    /// Frames allocated that no live persistent owner lists, plus frames listed that the ledger
    /// says are free (beyond one aligned run per get in flight of that owner).
    public var leaked = 0
    /// Frames an owner lists because a get of it in flight had tagged them (not leaked: its
    /// owner can find and free them).
    public var unacknowledged = 0
}

/// Judges recovered pools.
public enum Oracle {
    /// What the ledger says of a frame.
    enum Expect: Equatable {
        case free
        case held(OwnerID)
        /// An operation in flight by this owner touches it: free or held by it.
        case open(OwnerID)
    }

    /// Checks `pool`, freshly recovered, against `ledger`. Settles every tree first.
    public static func judge<P: Persistence>(_ pool: PoolImage<P>, ledger: Ledger) -> Verdict {
        var verdict = Verdict()
        let llfree = pool.allocator
        guard let table = pool.owners else {
            verdict.violations.append("the recovered pool has no owner table")
            return verdict
        }
        llfree.settleAll()
        let frames = Int(llfree.geometry.frames)

        // Owners: acknowledged ones are live, as created; roots are acknowledged values.
        let live = table.owners
        let liveByID = Dictionary(uniqueKeysWithValues: live.map { ($0.id, $0) })
        for owner in ledger.owners {
            guard let record = liveByID[owner.id] else {
                verdict.violations.append("acknowledged owner \(owner.id) \"\(owner.name)\" is not in the recovered owner table")
                continue
            }
            if record.name != owner.name || record.lifetime != owner.lifetime {
                verdict.violations.append("owner \(owner.id) was created as \"\(owner.name)\" (\(owner.lifetime)), recovered as \(record)")
            }
            let root = (try? table.root(owner.id)) ?? []
            var allowed = [ledger.roots[owner.id] ?? []]
            for (_, op) in ledger.inFlight {
                if case .setRoot(owner.id, let old, let new) = op { allowed += [old, new] }
            }
            if !allowed.contains(root) {
                verdict.violations.append("owner \(owner.id)'s root is \(Array(root.prefix(4)))..., not the acknowledged value \(Array(allowed[0].prefix(4)))...")
            }
            var quotas = [ledger.quotas[owner.id] ?? nil]
            for (_, op) in ledger.inFlight {
                if case .setQuota(owner.id, let old, let new) = op { quotas += [old, new] }
            }
            if !quotas.contains(record.quota) {
                verdict.violations.append("owner \(owner.id)'s quota is \(record.quota.map(String.init) ?? "none"), not the acknowledged \(quotas[0].map(String.init) ?? "none")")
            }
        }
        // Temporary owners: live as created unless a removal is in flight; removed ones gone.
        let removing = Set(ledger.inFlight.values.compactMap { if case .remove(let id) = $0 { return id }; return nil })
        for (_, owner) in ledger.temporary where !removing.contains(owner.id) {
            guard let record = liveByID[owner.id] else {
                verdict.violations.append("acknowledged temporary owner \(owner.id) \"\(owner.name)\" is not in the recovered owner table")
                continue
            }
            if record.name != owner.name || record.quota != owner.quota {
                verdict.violations.append("temporary owner \(owner.id) was created as \(owner), recovered as \(record)")
            }
        }
        let known = Set(ledger.owners.map(\.id)).union(ledger.temporary.values.map(\.id))
        for record in live where !known.contains(record.id) {
            // Only a creation in flight may leave an owner the ledger does not know; an
            // acknowledged removal leaves none.
            let creating = ledger.inFlight.values.contains { if case .create(record.name, record.lifetime) = $0 { return true }; return false }
            if ledger.removed.contains(record.id) && !creating {
                verdict.violations.append("owner \(record.id) \"\(record.name)\" was removed, and the recovered table holds it")
            } else if !creating {
                verdict.violations.append("the recovered table holds \(record), which was never created")
            }
        }
        func persistent(_ id: OwnerID) -> Bool { liveByID[id]?.lifetime == .persistent }

        // What the ledger expects of every frame.
        var expect = [Expect](repeating: .free, count: frames)
        // Frames a client holds now (of any owner): a put in flight of one of them freed it before
        // another client's get, acknowledged since, took it again; then it is that client's.
        var heldNow = [Bool](repeating: false, count: frames)
        for (frame, order) in ledger.held {
            for f in Int(frame)..<(Int(frame) + (1 << order)) { heldNow[f] = true }
        }
        for (frame, order) in ledger.held {
            let owner = ledger.holder[frame]!
            // Settling frees what ephemeral owners held.
            guard ledger.lifetime(owner) == .persistent else { continue }
            for f in Int(frame)..<(Int(frame) + (1 << order)) { expect[f] = .held(owner) }
        }
        var gets: [OwnerID: [Int]] = [:]
        // Frames a get of a given run in flight may have taken after a put in flight freed them.
        var takenAt: [OwnerID: Set<Int>] = [:]
        var getsAt: [(run: Range<Int>, owner: OwnerID)] = []
        for (_, op) in ledger.inFlight {
            switch op {
            case .get(let order, _, let owner):
                gets[owner, default: []].append(order)
            case .getAt(let frame, let order, let owner):
                // Judged after the puts in flight (below), whatever order they come in.
                getsAt.append((Int(frame)..<(Int(frame) + (1 << order)), owner))
            case .put(let frame, let order, let owner):
                for f in Int(frame)..<(Int(frame) + (1 << order)) where !heldNow[f] { expect[f] = .open(owner) }
            case .getBatch(let count, let owner):
                // Each frame of a batch get in flight may be tagged for its owner.
                gets[owner, default: []] += Array(repeating: 0, count: count)
            case .putBatch(let frames, let owner):
                for f in frames where !heldNow[Int(f)] { expect[Int(f)] = .open(owner) }
            case .wrongPut, .setRoot, .create, .setQuota, .remove:
                break  // a refused put changes nothing: its run stays held
            }
        }
        for (run, owner) in getsAt {
            // A get of a run some of which is held must fail: then it changes nothing. A run that
            // a put in flight is freeing may be taken by it once the put has freed it.
            if run.allSatisfy({ expect[$0] == .free }) {
                for f in run { expect[f] = .open(owner) }
            } else if run.allSatisfy({ if case .held = expect[$0] { return false }; return true }) {
                takenAt[owner, default: []].formUnion(run)
            }
        }

        // What the recovered pool lists, per live owner.
        var listed = [OwnerID](repeating: Owners.any, count: frames)
        var twice: [Int] = []
        for record in live {
            var from: UInt64 = 0
            var count = 0
            while true {
                let (runs, next) = llfree.runs(of: record.id, from: from, limit: 256)
                for run in runs {
                    for f in Int(run.frame)..<min(frames, Int(run.frame) + (1 << run.order)) {
                        if listed[f] != Owners.any { twice.append(f) }
                        listed[f] = record.id
                    }
                    count += 1 << run.order
                }
                guard let next else { break }
                from = next
            }
            if llfree.held(by: record.id) != count {
                verdict.violations.append("held(by: \(record.id)) is \(llfree.held(by: record.id)), the runs listed for it hold \(count) frames")
            }
            if record.lifetime != .persistent && count > 0 {
                verdict.violations.append("ephemeral owner \(record.id) holds \(count) frames after recovery")
            }
        }
        if !twice.isEmpty { verdict.violations.append("frames listed for two owners: \(ranges(twice))") }

        var lost: [Int] = [], unlisted: [Int] = [], freeListed: [Int] = [], foreign: [Int] = []
        var extra: [OwnerID: [Int]] = [:]
        for f in 0..<frames {
            let allocated = !llfree.lower.isFree(frame: UInt64(f), order: 0)
            let owner = listed[f]
            if allocated && (owner == Owners.any || !persistent(owner)) { unlisted.append(f) }
            if !allocated && owner != Owners.any { freeListed.append(f) }
            switch expect[f] {
            case .held(let holder):
                if owner == Owners.any && !allocated { lost.append(f) }
                else if owner != holder { foreign.append(f) }
            case .open(let holder):
                // A put in flight may have freed it and a get in flight taken it again.
                if owner != Owners.any && owner != holder { extra[owner, default: []].append(f) }
            case .free:
                if owner != Owners.any { extra[owner, default: []].append(f) }
            }
        }
        verdict.leaked += unlisted.count
        if !lost.isEmpty {
            verdict.violations.append("acknowledged frames are free after recovery: \(ranges(lost))")
        }
        if !unlisted.isEmpty {
            verdict.violations.append("\(unlisted.count) frames allocated that no live persistent owner lists: \(ranges(unlisted))")
        }
        if !freeListed.isEmpty {
            verdict.violations.append("frames listed for an owner but free: \(ranges(freeListed))")
        }
        if !foreign.isEmpty {
            verdict.violations.append("frames held by another owner than the one the clients were told: \(ranges(foreign))")
        }
        for (owner, all) in extra.sorted(by: { $0.key < $1.key }) {
            let found = all.filter { !(takenAt[owner]?.contains($0) ?? false) }
            verdict.unacknowledged += all.count - found.count
            if found.isEmpty { continue }
            // A get in flight may have tagged one aligned run of its order for its owner (a
            // batch get one frame per frame asked).
            if coveredByRuns(found, orders: gets[owner] ?? []) {
                verdict.unacknowledged += found.count
            } else {
                verdict.leaked += found.count
                verdict.violations.append("owner \(owner) holds \(found.count) frames the clients were not given (\(ranges(found))), more than one aligned run per get of it in flight (orders \((gets[owner] ?? []).sorted())) accounts for")
            }
        }

        // Held huge runs must still be huge runs of the same size, so that their put works.
        for (frame, order) in ledger.held where order >= Geometry.hugeOrder {
            guard ledger.lifetime(ledger.holder[frame]!) == .persistent else { continue }
            let first = Int(frame) / Geometry.childFrames
            let touched = (Int(frame)..<(Int(frame) + (1 << order))).contains { if case .open = expect[$0] { return true }; return false }
            if touched { continue }
            for c in first..<(first + (1 << (order - Geometry.hugeOrder))) {
                let child = llfree.lower.child(c)
                if !(child.huge && child.span == order - Geometry.hugeOrder) {
                    verdict.violations.append("held huge run \(frame) of order \(order): child \(c) is \(child)")
                    break
                }
            }
        }
        verdict.violations += llfree.validate().map { "after recovery: \($0)" }
        return verdict
    }

    /// Whether the sorted frames `leaked` lie within one naturally aligned run per order in
    /// `orders` (greedy, largest order first: each takes the run holding most leaked frames).
    static func coveredByRuns(_ leaked: [Int], orders: [Int]) -> Bool {
        var rest = leaked
        for order in orders.sorted(by: >) where !rest.isEmpty {
            var counts: [Int: Int] = [:]
            for f in rest { counts[f >> order, default: 0] += 1 }
            let best = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
            rest.removeAll { $0 >> order == best }
        }
        return rest.isEmpty
    }

    /// "3, 7-9, 12" for a sorted list of frames.
    static func ranges(_ frames: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < frames.count && parts.count < 8 {
            var j = i
            while j + 1 < frames.count && frames[j + 1] == frames[j] + 1 { j += 1 }
            parts.append(i == j ? "\(frames[i])" : "\(frames[i])-\(frames[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ") + (i < frames.count ? ", ..." : "")
    }
}
