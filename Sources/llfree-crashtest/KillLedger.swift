// The kill loop's record of what clients were told, per owner: runs acknowledged to each owner,
// runs whose put is in flight, runs whose put was acknowledged since the last check, and the get
// in flight at the kill (each client sends one request at a time). Every owner shares one frame
// set, so a frame handed to two holders is caught when the second gets it. After each restart
// `check` compares the ledger with each owner's list of runs and with every allocated frame of
// the recovered pool: a run served by a get whose reply was lost is listed and adopted
// (reconciliation), so nothing may leak.

import Foundation
import LLFreeClient
import LLFreeProtocol

/// What the owners hold, as acknowledged by the daemon. Thread-safe.
final class KillLedger: @unchecked Sendable {
    /// One owner's part of the ledger.
    struct Owner {
        let name: String
        let kind: WireOwnerKind
        /// First frame -> order of each run the owner holds.
        var held = [UInt64: Int]()
        /// Runs whose put was sent but not acknowledged: freed or not, both are allowed.
        var putting = [UInt64: Int]()
        /// Runs whose put was acknowledged since the last check: must not be listed (unless a
        /// get in flight took the frame again).
        var put = [UInt64: Int]()
        /// The get sent but not acknowledged (order, count of runs).
        var getInFlight: (order: Int, count: Int)?
    }

    private let lock = NSLock()
    private var owners: [Owner]
    /// Every frame inside a run any owner holds, for overlap checks.
    private var frames = Set<UInt64>()
    /// What went wrong, one line each.
    private(set) var violations = [String]()

    init(owners: [(name: String, kind: WireOwnerKind)]) {
        self.owners = owners.map { Owner(name: $0.name, kind: $0.kind) }
    }

    var ownerNames: [String] { lock.withLock { owners.map(\.name) } }
    func kind(_ owner: Int) -> WireOwnerKind { lock.withLock { owners[owner].kind } }

    func violation(_ text: String) { lock.withLock { violations.append(text) } }

    /// A get of `count` runs of `order` for `owner` is about to be sent.
    func sendingGet(_ owner: Int, order: Int, count: Int) { lock.withLock { owners[owner].getInFlight = (order, count) } }

    /// The get was answered: `runs` are now held by `owner`.
    func acknowledgedGet(_ owner: Int, order: Int, runs: [UInt64]) {
        lock.withLock {
            owners[owner].getInFlight = nil
            for run in runs { hold(owner, run, order, "was handed out while another holder had it") }
        }
    }

    /// Takes up to `limit` runs of one order `owner` holds for a put (in flight from now on).
    func takeForPut(_ owner: Int, limit: Int, using random: inout some RandomNumberGenerator) -> (order: Int, runs: [UInt64])? {
        lock.withLock {
            guard let (_, order) = owners[owner].held.randomElement(using: &random) else { return nil }
            let runs = Array(owners[owner].held.filter { $0.value == order }.keys.prefix(limit))
            for run in runs {
                owners[owner].held[run] = nil
                owners[owner].putting[run] = order
                // From here another holder may legitimately get these frames (once the put is served).
                for f in Self.range(run, order) { frames.remove(f) }
            }
            return (order, runs)
        }
    }

    /// The put of `runs` was answered with `results`.
    func acknowledgedPut(_ owner: Int, order: Int, runs: [UInt64], results: [ErrorCode?]) {
        lock.withLock {
            for (run, result) in zip(runs, results) {
                owners[owner].putting[run] = nil
                if let result {
                    violations.append("\(owners[owner].name): put of held run \(run) (order \(order)) was refused: \(result)")
                    hold(owner, run, order, "is held twice")
                } else {
                    owners[owner].put[run] = order
                }
            }
        }
    }

    /// The put of `runs` failed as a whole without a lost connection: every run was held, so
    /// that is a violation; the runs are held again (a refused request freed nothing).
    func failedPut(_ owner: Int, order: Int, runs: [UInt64], error: ClientError) {
        lock.withLock {
            violations.append("\(owners[owner].name): put of \(runs.count) held runs of order \(order) failed as a whole: \(error)")
            for run in runs {
                owners[owner].putting[run] = nil
                hold(owner, run, order, "is held twice")
            }
        }
    }

    /// A put split into requests was answered in part: freed runs are gone, refused ones are
    /// violations (and still held), unknown ones stay in flight until the next check.
    func partlyAcknowledgedPut(_ owner: Int, order: Int, runs: [UInt64], outcomes: [PutRunOutcome]) {
        lock.withLock {
            for (run, outcome) in zip(runs, outcomes) {
                switch outcome {
                case .freed:
                    owners[owner].putting[run] = nil
                    owners[owner].put[run] = order
                case .notFreed(let code):
                    violations.append("\(owners[owner].name): put of held run \(run) (order \(order)) was refused: \(code)")
                    owners[owner].putting[run] = nil
                    hold(owner, run, order, "is held twice")
                case .unknown:
                    break
                }
            }
        }
    }

    /// What a check after a restart found.
    struct CheckResult {
        /// Runs listed by a persistent owner that came from its get in flight at the kill.
        var adopted = 0
        /// Runs whose put was in flight at the kill and that were listed again (not served).
        var putsNotServed = 0
        /// Allocated frames of the pool (each checked against every owner's list).
        var allocated = 0
        /// Allocated frames no owner lists, plus frames listed by a persistent owner that the
        /// ledger cannot account for.
        var leaked = 0
    }

    /// Compares the ledger with the recovered pool: `listed` is each ledger owner's list of runs
    /// (nil: the owner does not exist), `others` every other owner's, `allocated` exactly the
    /// allocated frames. No client may run meanwhile. Records violations; adopts the runs of
    /// gets in flight at the kill (unless `reconcile` is false), resolves the puts in flight.
    func check(cycle: Int, listed: [[WireRun]?], others: [String: [WireRun]], allocated: Set<UInt64>, reconcile: Bool) -> CheckResult {
        lock.lock()
        defer { lock.unlock() }
        return checkLocked(cycle: cycle, listed: listed, others: others, allocated: allocated, reconcile: reconcile)
    }

    private func checkLocked(cycle: Int, listed: [[WireRun]?], others: [String: [WireRun]], allocated: Set<UInt64>, reconcile: Bool) -> CheckResult {
        do {
            var result = CheckResult(allocated: allocated.count)
            var unaccounted = 0
            for i in owners.indices {
                let name = owners[i].name
                let runs = listed[i] ?? []
                if owners[i].kind == .ephemeral {
                    // Freed when the daemon starts: the owner holds nothing, whatever it was told.
                    if !runs.isEmpty {
                        violations.append("cycle \(cycle): ephemeral owner \(name) lists \(runs.count) runs after the restart (first \(runs[0]))")
                    }
                    for (run, order) in owners[i].held { for f in Self.range(run, order) { frames.remove(f) } }
                    owners[i].held.removeAll()
                    owners[i].putting.removeAll()
                    owners[i].put.removeAll()
                    owners[i].getInFlight = nil
                    continue
                }
                var listedOrder = [UInt64: Int]()
                for run in runs {
                    if listedOrder.updateValue(Int(run.order), forKey: run.frame) != nil {
                        violations.append("cycle \(cycle): \(name) lists run \(run) twice")
                    }
                }
                // Every acknowledged-held run is listed, with its order.
                for (run, order) in owners[i].held.sorted(by: { $0.key < $1.key }) where listedOrder[run] != order {
                    let what = listedOrder[run].map { "listed with order \($0)" } ?? "not listed"
                    violations.append("cycle \(cycle): \(name) was told it holds run \(run) of order \(order), but it is \(what)")
                }
                // Every listed run is held, or a put in flight was not served, or a get in
                // flight was served.
                var getBudget = owners[i].getInFlight
                for run in runs.sorted(by: { $0.frame < $1.frame }) {
                    let frame = run.frame, order = Int(run.order)
                    if owners[i].held[frame] != nil { continue }
                    if owners[i].putting[frame] == order {
                        owners[i].putting[frame] = nil
                        hold(i, frame, order, "is listed by \(name), whose put of it was in flight, but is held by another owner")
                        result.putsNotServed += 1
                    } else if reconcile, let budget = getBudget, budget.order == order, budget.count > 0 {
                        getBudget = (order, budget.count - 1)
                        hold(i, frame, order, "is listed by \(name) (from its get in flight at the kill) but is held by another owner")
                        result.adopted += 1
                    } else if owners[i].put[frame] == order {
                        violations.append("cycle \(cycle): \(name) lists run \(run), whose put was acknowledged")
                        unaccounted += 1 << order
                    } else {
                        violations.append("cycle \(cycle): \(name) lists run \(run), which no acknowledged get or get in flight at the kill gave it")
                        unaccounted += 1 << order
                    }
                }
                // Puts in flight whose runs are not listed were served.
                owners[i].putting.removeAll()
                owners[i].put.removeAll()
                owners[i].getInFlight = nil
            }
            // Every allocated frame is listed by exactly one owner, and every listed frame is allocated.
            var listedBy = [UInt64: String]()
            let all: [(String, [WireRun])] = Array(zip(owners.map(\.name), listed.map { $0 ?? [] })) + others.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
            for (name, runs) in all {
                for run in runs {
                    for f in Self.range(run.frame, Int(run.order)) {
                        if let other = listedBy.updateValue(name, forKey: f) {
                            violations.append("cycle \(cycle): frame \(f) is listed by \(other) and by \(name)")
                        }
                        if !allocated.contains(f) {
                            violations.append("cycle \(cycle): frame \(f) of run \(run) listed by \(name) is free")
                        }
                    }
                }
            }
            let unlisted = allocated.filter { listedBy[$0] == nil }
            if let first = unlisted.min() {
                violations.append("cycle \(cycle): \(unlisted.count) allocated frames are listed by no owner (first \(first))")
            }
            result.leaked = unlisted.count + unaccounted
            return result
        }
    }

    /// Records `run` as held by `owner` (lock held).
    private func hold(_ owner: Int, _ run: UInt64, _ order: Int, _ overlap: String) {
        owners[owner].held[run] = order
        owners[owner].put[run] = nil
        for f in Self.range(run, order) where !frames.insert(f).inserted {
            violations.append("frame \(f) of run \(run) (order \(order)) for \(owners[owner].name) \(overlap)")
        }
    }

    private static func range(_ run: UInt64, _ order: Int) -> Range<UInt64> { run..<(run + (1 << UInt64(order))) }

    /// Frames `owner` holds.
    func heldFrames(_ owner: Int) -> Int { lock.withLock { owners[owner].held.reduce(0) { $0 + (1 << $1.value) } } }

    /// Frames every owner holds.
    var heldFrames: Int { lock.withLock { owners.reduce(0) { $0 + $1.held.reduce(0) { $0 + (1 << $1.value) } } } }

    /// Frames in the gets in flight now (at the kill, once the clients stopped).
    var getsInFlight: Int { lock.withLock { owners.reduce(0) { $0 + ($1.getInFlight.map { $0.count << $0.order } ?? 0) } } }
}
