// The daemon's counters for stats: per-core slots on separate cache lines for what the fast
// path counts (so cores share no line), and a few shared ones for connection events.

import Atomics

/// Counters of connections and operations, safe to update from every event loop.
public final class ServerCounters: @unchecked Sendable {
    /// What each core counts.
    public enum Slot: Int, CaseIterable {
        case operations = 0, framesAllocated, framesFreed, errors
    }
    static let stride = 8  // UInt64s per core: one 64-byte line.

    let cores: Int
    let slots: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    /// Connections accepted since start.
    public let accepted = ManagedAtomic<UInt64>(0)
    /// Connections refused by the access policy.
    public let refused = ManagedAtomic<UInt64>(0)
    /// Connections open now.
    public let connected = ManagedAtomic<Int>(0)
    /// Trees settled in the background after ready: settling frees what dead and ephemeral
    /// owners held, a change no operation counts, which the stats cache must not miss.
    public let settled = ManagedAtomic<UInt64>(0)
    /// Huge frames the idle zeroer zeroed (and marked known zero) since start.
    public let zeroedHuge = ManagedAtomic<UInt64>(0)
    /// Free huge frames returned to the host (holes), as of the idle zeroer's last census.
    public let reclaimedHuge = ManagedAtomic<UInt64>(0)

    public init(cores: Int) {
        self.cores = cores
        let raw = UnsafeMutableRawPointer.allocate(byteCount: cores * Self.stride * 8, alignment: 64)
        raw.initializeMemory(as: UInt64.self, repeating: 0, count: cores * Self.stride)
        slots = raw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: cores * Self.stride)
    }

    deinit { UnsafeMutableRawPointer(slots).deallocate() }

    /// Adds `value` to `slot` of `core`.
    @inline(__always)
    public func add(_ slot: Slot, _ value: UInt64 = 1, core: Int) {
        UnsafeAtomic(at: slots + (core &* Self.stride &+ slot.rawValue)).wrappingIncrement(by: value, ordering: .relaxed)
    }

    /// The sum of `slot` over all cores.
    public func total(_ slot: Slot) -> UInt64 {
        (0..<cores).reduce(0) { $0 &+ UnsafeAtomic(at: slots + ($1 * Self.stride + slot.rawValue)).load(ordering: .relaxed) }
    }
}
