// The kill loop's record of what clients were told: runs acknowledged to a holder, runs whose
// put is in flight, frames that leaked (allocated, held by no one) in earlier cycles, and the
// bound on frames that may newly leak (gets in flight at the kill). Every holder shares one
// ledger, so a frame handed to two holders is caught when the second gets it. After each restart
// `check` compares the ledger, frame by frame, with what the recovered pool says is allocated.

import Foundation
import LLFreeClient
import LLFreeProtocol

/// What the clients hold, as acknowledged by the daemon. Thread-safe.
final class KillLedger: @unchecked Sendable {
    private let lock = NSLock()
    /// First frame -> order of each run a client holds.
    private(set) var held = [UInt64: Int]()
    /// Every frame inside a held run, for overlap checks.
    private var frames = Set<UInt64>()
    /// Runs whose put was sent but not acknowledged: freed or not, both are allowed.
    private(set) var putting = [UInt64: Int]()
    /// Frames found allocated but held by no client at the last check. No one can free them
    /// (no client knows them) and no get may hand them out: the set may only grow.
    private(set) var leaked = Set<UInt64>()
    /// Frames of gets sent but not acknowledged since the last reset: the bound on new leaks.
    private(set) var getsInFlight = 0
    /// What went wrong, one line each.
    private(set) var violations = [String]()

    func violation(_ text: String) { lock.withLock { violations.append(text) } }

    /// A get of `count` runs of `order` is about to be sent; its frames may leak until acknowledged.
    func sendingGet(order: Int, count: Int) { lock.withLock { getsInFlight += count << order } }

    /// The get was answered (or refused): `runs` are now held.
    func acknowledgedGet(order: Int, count: Int, runs: [UInt64]) {
        lock.withLock {
            getsInFlight -= count << order
            for run in runs {
                for f in Self.range(run, order) {
                    if leaked.contains(f) {
                        violations.append("frame \(f) of run \(run) (order \(order)) was handed out although it was allocated (leaked) since an earlier kill")
                    }
                    if !frames.insert(f).inserted {
                        violations.append("frame \(f) of run \(run) (order \(order)) was handed out while another holder had it")
                    }
                }
                held[run] = order
            }
        }
    }

    /// Takes up to `limit` held runs of one order for a put (they are in flight from now on).
    func takeForPut(limit: Int, using random: inout some RandomNumberGenerator) -> (order: Int, runs: [UInt64])? {
        lock.withLock {
            guard let (_, order) = held.randomElement(using: &random) else { return nil }
            let runs = Array(held.filter { $0.value == order }.keys.prefix(limit))
            for run in runs {
                held[run] = nil
                putting[run] = order
                // From here another holder may legitimately get these frames (once the put is served).
                for f in Self.range(run, order) { frames.remove(f) }
            }
            return (order, runs)
        }
    }

    /// The put of `runs` was answered with `results`.
    func acknowledgedPut(order: Int, runs: [UInt64], results: [ErrorCode?]) {
        lock.withLock {
            for (run, result) in zip(runs, results) {
                putting[run] = nil
                if let result {
                    violations.append("put of held run \(run) (order \(order)) was refused: \(result)")
                    hold(run, order)
                }
            }
        }
    }

    /// The put of `runs` failed as a whole without a lost connection (refused, or a reply that
    /// breaks the protocol). Every run was held, so any refusal is a violation; the runs are
    /// held again (a refused request freed nothing).
    func failedPut(order: Int, runs: [UInt64], error: ClientError) {
        lock.withLock {
            violations.append("put of \(runs.count) held runs of order \(order) failed as a whole: \(error)")
            for run in runs {
                putting[run] = nil
                hold(run, order)
            }
        }
    }

    /// A put split into requests was answered in part: freed runs are gone, refused ones are
    /// violations (and still held), unknown ones stay in flight until the next check.
    func partlyAcknowledgedPut(order: Int, runs: [UInt64], outcomes: [PutRunOutcome]) {
        lock.withLock {
            for (run, outcome) in zip(runs, outcomes) {
                switch outcome {
                case .freed:
                    putting[run] = nil
                case .notFreed(let code):
                    violations.append("put of held run \(run) (order \(order)) was refused: \(code)")
                    putting[run] = nil
                    hold(run, order)
                case .unknown:
                    break
                }
            }
        }
    }

    /// What a check after a restart found.
    struct CheckResult {
        /// Frames allocated and held by no one that were not so at the previous check.
        var newlyLeaked: Int
        /// Frames allocated and held by no one now.
        var leaked: Int
    }

    /// Compares the ledger with the recovered pool, in which exactly the frames in `allocated`
    /// are allocated. No client may run meanwhile. Records violations; resolves the puts that
    /// were in flight at the kill.
    @discardableResult
    func check(cycle: Int, allocated: Set<UInt64>) -> CheckResult {
        lock.withLock {
            resolvePuts(allocated: allocated)
            // Every frame of every held run must still be allocated: a held run is checked frame
            // by frame, since a run is "not free" as soon as one of its frames is allocated.
            for (run, order) in held.sorted(by: { $0.key < $1.key }) {
                let lost = Self.range(run, order).filter { !allocated.contains($0) }
                if !lost.isEmpty {
                    violations.append("cycle \(cycle): run \(run) of order \(order) was acknowledged to a holder but \(lost.count) of its frames are free after recovery (first \(lost[0]))")
                }
            }
            let nowLeaked = allocated.subtracting(frames)
            // Leaked frames are never freed by anyone: fewer leaked frames means the pool lost
            // an allocation (and new leaks could otherwise hide behind it).
            let freedLeaks = leaked.subtracting(nowLeaked)
            if !freedLeaks.isEmpty {
                violations.append("cycle \(cycle): \(freedLeaks.count) frames leaked in earlier cycles are free now (first \(freedLeaks.min()!))")
            }
            let newlyLeaked = nowLeaked.subtracting(leaked).count
            if newlyLeaked > getsInFlight {
                violations.append("cycle \(cycle): \(newlyLeaked) frames newly leaked but only \(getsInFlight) were in gets in flight at the kill")
            }
            leaked = nowLeaked
            return CheckResult(newlyLeaked: newlyLeaked, leaked: nowLeaked.count)
        }
    }

    /// Decides, frame by frame, what became of each put in flight at the kill (lock held).
    ///
    /// - Some frame of the run is held by another client now (it got it after the put was
    ///   sent): the put was served. Its other frames are free, or were taken by gets whose
    ///   replies were lost (they count as new leaks, bounded by the gets in flight).
    /// - Otherwise, every frame allocated: the put was not served (or was, and gets in flight
    ///   took all of it again; either way nobody else can use the frames): held again.
    /// - Otherwise the put was served; frames still allocated were taken by gets in flight.
    private func resolvePuts(allocated: Set<UInt64>) {
        for (run, order) in putting {
            let range = Self.range(run, order)
            let takenByOthers = range.contains { frames.contains($0) }
            if !takenByOthers && range.allSatisfy({ allocated.contains($0) }) {
                hold(run, order)
            }
        }
        putting.removeAll()
    }

    /// Records `run` as held (lock held).
    private func hold(_ run: UInt64, _ order: Int) {
        held[run] = order
        for f in Self.range(run, order) where !frames.insert(f).inserted {
            violations.append("frame \(f) of run \(run) (order \(order)) is held twice")
        }
    }

    private static func range(_ run: UInt64, _ order: Int) -> Range<UInt64> { run..<(run + (1 << UInt64(order))) }

    /// Frames held in total.
    var heldFrames: Int { lock.withLock { held.reduce(0) { $0 + (1 << $1.value) } } }

    /// Starts a new cycle's leak bound.
    func resetInFlight() { lock.withLock { getsInFlight = 0 } }
}
