// The simulated clients: a seeded mix of gets of every order and kind, each for one of the owners
// the explorer created (persistent ones and an ephemeral one), puts of held runs by their holder
// (some splitting huge frames), puts by the wrong owner (refused, changing nothing), gets of
// specific frames, compare-and-set of owners' roots, refused double frees and drains. Each thread
// has its own random stream, so a schedule replays exactly.

import LLFree
import LLFreePool

/// Generates and runs the operations of the simulated clients.
/// Simulated threads use it only while they hold the scheduler's turn.
final class Workload: @unchecked Sendable {
    var rngs: [SeededRandom]
    let frames: UInt64
    let maxOrder: Int
    /// Wrong answers seen while running (a frame handed out twice, a double free accepted).
    var unexpected: [String] = []

    /// Percent of steps that are the idle zeroer's; 2 is the mix's own share.
    let zeroShare: Int

    init(seed: UInt64, frames: UInt64, maxOrder: Int, threads: Int = 64, zeroShare: Int = 2) {
        self.zeroShare = zeroShare
        rngs = (0..<threads).map { SeededRandom(seed: seed &+ UInt64($0) &* 0x1000_0001) }
        self.frames = frames
        self.maxOrder = maxOrder
    }

    func order(_ rng: inout SeededRandom) -> Int {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<50: return 0
        case 50..<78: return Int.random(in: 1...8, using: &rng)
        case 78..<94: return Geometry.hugeOrder
        default: return Int.random(in: (Geometry.hugeOrder + 1)...maxOrder, using: &rng)
        }
    }

    /// The index of an owner among `count` created ones: the last (ephemeral) one now and then.
    func owner(_ rng: inout SeededRandom, count: Int) -> Int {
        guard count > 1 else { return 0 }
        if Int.random(in: 0..<100, using: &rng) < 15 { return count - 1 }
        return Int.random(in: 0..<(count - 1), using: &rng)
    }

    /// The next step of `thread`, drawn from its random stream (the workload's mix).
    func generate(thread: Int, cores: Int, ledger: Ledger) -> Step {
        var rng = rngs[thread]
        defer { rngs[thread] = rng }
        let owners = ledger.owners.count
        let heldFrames = ledger.held.values.reduce(0) { $0 + (1 << $1) }
        let full = heldFrames * 4 > Int(frames) * 3
        // Another share than the mix's own draws once more, so the default stream is unchanged.
        if zeroShare != 2, Int.random(in: 0..<100, using: &rng) < zeroShare {
            return .zero(from: Int.random(in: 0..<64, using: &rng))
        }
        let action = Int.random(in: 0..<100, using: &rng)
        switch action {
        case 0..<8 where !full:
            return .getBatch(count: Int.random(in: 2...80, using: &rng), owner: owner(&rng, count: owners))
        case 8..<45 where !full:
            let o = order(&rng)
            return .get(order: o, kind: Kind.allCases.randomElement(using: &rng)!, owner: owner(&rng, count: owners))
        case 45..<53:
            let o = Int.random(in: 0...Geometry.hugeOrder, using: &rng)
            return .getAt(frame: UInt64.random(in: 0..<frames, using: &rng) & ~((1 << UInt64(o)) - 1), order: o,
                          owner: owner(&rng, count: owners))
        case 53..<58 where cores == 1:
            return .doubleFree(frame: UInt64.random(in: 0..<frames, using: &rng))
        case 58..<60:
            return .drain
        case 60 where cores == 1:
            return .reopen
        case 61..<64:
            return .wrongPut(held: Int.random(in: 0..<1 << 30, using: &rng), other: Int.random(in: 0..<8, using: &rng))
        case 64..<66:
            return .setRoot(owner: Int.random(in: 0..<max(1, owners), using: &rng), value: Int.random(in: 0..<1 << 20, using: &rng))
        case 66:
            return .setQuota(owner: Int.random(in: 0..<max(1, owners), using: &rng), value: Int.random(in: 0..<3, using: &rng) * 100_000)
        case 67:
            return .churn(slot: Int.random(in: 0..<3, using: &rng))
        case 68..<70:
            return .zero(from: Int.random(in: 0..<64, using: &rng))
        default:
            let n = Int.random(in: 0..<1 << 30, using: &rng)
            let shape = Int.random(in: 0..<5, using: &rng)
            if shape == 4 { return .putBatch(held: n, count: Int.random(in: 2...80, using: &rng)) }
            if shape == 0 {
                let o = Int.random(in: 0...3, using: &rng)
                return .split(held: n, order: o, slot: Int.random(in: 0..<(512 >> o), using: &rng))
            }
            return .put(held: n)
        }
    }

    /// What a client does with a run it got: reads it (every frame must be zero, as no earlier
    /// holder's bytes may reach it) and writes its owner number into its first and last frame.
    func write(_ frame: UInt64, order: Int, owner: OwnerID, _ domain: SimulatedDomain) {
        let last = frame + (1 << UInt64(order)) - 1
        for f in [frame, last] {
            let found = domain.content(frame: f)
            if found != 0 { unexpected.append("frame \(f) of a run of order \(order) got by owner \(owner) holds bytes of owner \(found)") }
        }
        domain.clientWrite(frame: frame, value: UInt64(owner))
        if last != frame { domain.clientWrite(frame: last, value: UInt64(owner)) }
    }

    /// Runs `step` as `thread`, keeping `ledger` up to date. Steps that do not apply to the
    /// current state (nothing held, a frame that is held) do nothing. Wrong answers go to
    /// ``unexpected``.
    func execute<P: Persistence>(_ step: Step, on llfree: LLFree<P>, owners table: OwnerTable<P>?, thread: Int,
                                 domain: SimulatedDomain, ledger: Ledger) {
        let core = thread % llfree.cores
        let owners = ledger.owners.map(\.id)
        func id(_ k: Int) -> OwnerID { owners.isEmpty ? Owners.any : owners[k % owners.count] }
        domain.beginOperation()
        switch step {
        case .get(let o, let kind, let k):
            let owner = id(k)
            ledger.inFlight[thread] = .get(order: o, kind: kind, owner: owner)
            if let frame = try? llfree.get(order: o, core: core, kind: kind, owner: owner) {
                if !ledger.acknowledgeGet(frame, order: o, owner: owner) { unexpected.append("get(order: \(o)) returned \(frame), which a client holds") }
                write(frame, order: o, owner: owner, domain)
            }
        case .getBatch(let count, let k):
            let owner = id(k)
            ledger.inFlight[thread] = .getBatch(count: count, owner: owner)
            var frames = [UInt64](repeating: 0, count: count)
            let (n, _) = frames.withUnsafeMutableBufferPointer { llfree.get(order: 0, core: core, kind: .fixed, owner: owner, into: $0) }
            for frame in frames.prefix(n) {
                if !ledger.acknowledgeGet(frame, order: 0, owner: owner) { unexpected.append("a batch get returned \(frame), which a client holds") }
                write(frame, order: 0, owner: owner, domain)
            }
        case .putBatch(let n, let count):
            guard let (_, _, holder) = ledger.heldRun(n) else { return }
            var frames: [UInt64] = []
            for i in 0..<count {
                guard let (frame, o, h) = ledger.heldRun(n + i), o == 0, h == holder, !frames.contains(frame) else { continue }
                frames.append(frame)
            }
            guard !frames.isEmpty else { return }
            ledger.inFlight[thread] = .putBatch(frames: frames, owner: holder)
            for frame in frames { ledger.beginPut(frame, order: 0) }
            let freed = frames.withUnsafeBufferPointer {
                llfree.put(frames: $0, order: 0, core: core, owner: holder, waiting: domain.waiting) { i, error in
                    unexpected.append("a batch put of held run \(frames[i]) was refused: \(error)")
                }
            }
            if freed != frames.count { unexpected.append("a batch put freed \(freed) of \(frames.count) held runs") }
        case .getAt(let frame, let o, let k):
            guard frame + (1 << UInt64(o)) <= frames else { return }
            let owner = id(k)
            ledger.inFlight[thread] = .getAt(frame: frame, order: o, owner: owner)
            if (try? llfree.get(at: frame, order: o, core: core, owner: owner)) != nil {
                if !ledger.acknowledgeGet(frame, order: o, owner: owner) { unexpected.append("get(at: \(frame), order: \(o)) succeeded on a held frame") }
                write(frame, order: o, owner: owner, domain)
            }
        case .wrongPut(let n, let k):
            guard owners.count > 1, let (start, o, holder) = ledger.heldRun(n) else { return }
            let index = owners.firstIndex(of: holder) ?? 0
            let wrong = owners[(index + 1 + k % (owners.count - 1)) % owners.count]
            // An odd k tries to split a held order-9 frame (a put of one of its base frames).
            let (frame, order) = o == Geometry.hugeOrder && k % 2 == 1 ? (start + UInt64(k * 37 % Geometry.childFrames), 0) : (start, o)
            let child = Int(start) / Geometry.childFrames
            func state() -> [UInt64] {
                let children = o >= Geometry.hugeOrder ? 1 << (o - Geometry.hugeOrder) : 1
                var words = (child..<(child + children)).map { UInt64(llfree.lower.child($0).raw) }
                words.append(UInt64(llfree.lower.hugeTag(child).raw))
                words += (Int(start)..<(Int(start) + min(1 << o, Geometry.childFrames))).map { UInt64(llfree.lower.frameTag(UInt64($0)).raw) }
                words.append(llfree.lower.isFree(frame: start, order: 0) ? 1 : 0)
                return words
            }
            func stillHeld() -> Bool {
                let c = llfree.lower.child(child)
                if c.huge { return llfree.lower.hugeTag(child).owner == holder && (o < Geometry.hugeOrder || llfree.lower.hugeTag(child).span == o - Geometry.hugeOrder) }
                guard o < Geometry.hugeOrder, llfree.lower.frameTag(start) == FrameTag(head: holder, order: o) else { return false }
                return (Int(start)..<(Int(start) + (1 << o))).allSatisfy { f in
                    !llfree.lower.isFree(frame: UInt64(f), order: 0) && (f == Int(start) || llfree.lower.frameTag(UInt64(f)) == FrameTag(interior: holder))
                }
            }
            // Settle the tree first (after a reopen the put would, freeing an ephemeral owner's
            // frames beside the run): what must not change is what the refused put itself does.
            _ = try? llfree.isFree(start, order: o)
            let before = state()
            ledger.busy.insert(start)
            ledger.inFlight[thread] = .wrongPut(frame: frame, order: order, owner: wrong)
            do throws(LLFreeError) {
                try llfree.put(frame, order: order, core: core, owner: wrong, waiting: domain.waiting)
                unexpected.append("put(\(frame), order: \(order)) by owner \(wrong) of a run owner \(holder) holds was accepted")
                ledger.beginPut(frame, order: order)
            } catch {
                if case .notOwner = error {} else {
                    unexpected.append("put(\(frame), order: \(order)) by owner \(wrong) of a run owner \(holder) holds was refused with \(error), not notOwner")
                }
                // With several threads another one may be splitting the huge frame this run was
                // cut from (the ledger counts it split already): then only the holder's hold on
                // the run must be unchanged; alone, nothing at all may change.
                if llfree.cores == 1 ? state() != before : !stillHeld() {
                    unexpected.append("a refused put(\(frame), order: \(order)) by owner \(wrong) changed the run \(start)/\(o) owner \(holder) holds: \(before) -> \(state())")
                }
            }
            ledger.busy.remove(start)
        case .setRoot(let k, let v):
            guard let table, !owners.isEmpty, let old = ledger.roots[id(k)] else { return }
            let owner = id(k)
            let new = (0..<OwnerTableLayout.rootSize).map { UInt8(truncatingIfNeeded: v &+ $0 &* 31 &+ 1) }
            // The owner table serialises changes with a lock: no other simulated thread may take
            // the turn while it is held.
            domain.noSwitch = true
            defer { domain.noSwitch = false }
            ledger.inFlight[thread] = .setRoot(owner: owner, old: old, new: new)
            if v % 4 == 0 && new != old {
                // A stale expected value must be refused and change nothing.
                switch try? table.compareAndSetRoot(owner, expected: new, new: old) {
                case (false, old)?: break
                case let r: unexpected.append("compareAndSetRoot of owner \(owner) with a stale expected value answered \(String(describing: r))")
                }
            }
            switch try? table.compareAndSetRoot(owner, expected: old, new: new) {
            case (true, new)?: ledger.roots[owner] = new
            case let r: unexpected.append("compareAndSetRoot of owner \(owner) with the current value answered \(String(describing: r))")
            }
        case .setQuota(let k, let v):
            guard let table, !owners.isEmpty, let old = ledger.quotas[id(k)] else { return }
            let owner = id(k)
            // Quotas this large never limit the workload's gets; the value is what is checked.
            let new: UInt64? = v == 0 ? nil : UInt64(v)
            domain.noSwitch = true
            defer { domain.noSwitch = false }
            ledger.inFlight[thread] = .setQuota(owner: owner, old: old, new: new)
            switch Result(catching: { () throws(OwnerTableError) in try table.setQuota(owner, new) }) {
            case .success(let record) where record.quota == new: ledger.quotas[owner] = new
            case let r: unexpected.append("setQuota(\(owner), \(new.map(String.init) ?? "none")) answered \(r)")
            }
        case .churn(let slot):
            guard let table else { return }
            domain.noSwitch = true
            defer { domain.noSwitch = false }
            if let record = ledger.temporary[slot] {
                ledger.inFlight[thread] = .remove(owner: record.id)
                do throws(OwnerTableError) {
                    try table.remove(record.id)
                    ledger.temporary[slot] = nil
                    ledger.removed.insert(record.id)
                } catch {
                    unexpected.append("remove(\(record.id)) of a temporary owner that holds nothing failed: \(error)")
                }
            } else {
                let name = "t\(slot)"
                ledger.inFlight[thread] = .create(name: name, lifetime: .persistent)
                do throws(OwnerTableError) {
                    let record = try table.create(name: name, lifetime: .persistent, quota: UInt64(slot + 1), uid: 0, gid: nil)
                    ledger.temporary[slot] = record
                    ledger.removed.remove(record.id)
                } catch {
                    unexpected.append("create(\"\(name)\") of a temporary owner failed: \(error)")
                }
            }
        case .doubleFree(let frame):
            // Only single-threaded, where "nobody holds it" is certain.
            guard llfree.cores == 1, frame < frames,
                  ledger.held.allSatisfy({ frame < $0.key || frame >= $0.key + (1 << UInt64($0.value)) }) else { return }
            ledger.inFlight[thread] = .put(frame: frame, order: 0, owner: id(0))
            if (try? llfree.put(frame, order: 0, core: core, owner: id(0), waiting: domain.waiting)) != nil {
                unexpected.append("put(\(frame), order: 0) of a frame nobody holds was accepted")
            }
        case .zero(let from):
            // Holds a huge frame as the allocator's own owner while it runs: not a client's. The
            // search starts at child from / 2; an odd `from` reclaims (punches) what it takes,
            // known zero or not; an even one writes zeros over what is not known zero.
            let reclaim = from % 2 == 1
            _ = llfree.zeroNext(core: core, from: from / 2, choose: { _, knownZero in
                reclaim ? .reclaim : knownZero ? .skip : .write
            }, reclaim: { child in
                domain.punch(frame: UInt64(child * Geometry.childFrames), count: Geometry.childFrames)
                return true
            })
        case .drain:
            llfree.drain(core: core)
        case .reopen:
            preconditionFailure("the explorer closes and reopens the pool itself")
        case .put(let n), .split(let n, _, _):
            guard let (start, o, holder) = ledger.heldRun(n) else { return }
            var frame = start, put = o
            if case .split(_, let part, let slot) = step, o == Geometry.hugeOrder {
                put = part
                frame = start + (UInt64(slot % (512 >> part)) << UInt64(part))
            }
            ledger.inFlight[thread] = .put(frame: frame, order: put, owner: holder)
            ledger.beginPut(frame, order: put)
            do throws(LLFreeError) {
                try llfree.put(frame, order: put, core: core, owner: holder, waiting: domain.waiting)
            } catch {
                unexpected.append("put(\(frame), order: \(put)) of a held run was refused: \(error)")
            }
        }
        ledger.inFlight[thread] = nil
    }
}
