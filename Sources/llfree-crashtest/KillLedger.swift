// The kill loop's record of what clients were told: runs acknowledged to a holder, runs whose
// put is in flight, and the bound on frames that may leak (gets in flight at the kill). Every
// holder shares one ledger, so a frame handed to two holders is caught when the second gets it.

import Foundation
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
    /// Frames of gets sent but not acknowledged since the last reset: the leak bound.
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
                for f in run..<(run + (1 << UInt64(order))) where !frames.insert(f).inserted {
                    violations.append("frame \(f) of run \(run) (order \(order)) was handed out while another holder had it")
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
                for f in run..<(run + (1 << UInt64(order))) { frames.remove(f) }
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
                }
            }
        }
    }

    /// After the restart: a run whose put was in flight is held if still allocated, else gone.
    func resolvePut(run: UInt64, order: Int, free: Bool) {
        lock.withLock {
            putting[run] = nil
            if free { return }
            // Still allocated: either the put was never served, or it was and another holder got
            // the frames since (then they are in `frames` already).
            let range = run..<(run + (1 << UInt64(order)))
            if range.contains(where: { frames.contains($0) }) { return }
            held[run] = order
            for f in range { frames.insert(f) }
        }
    }

    /// Frames held in total.
    var heldFrames: Int { lock.withLock { held.reduce(0) { $0 + (1 << $1.value) } } }

    /// Starts a new cycle's leak bound.
    func resetInFlight() { lock.withLock { getsInFlight = 0 } }
}
