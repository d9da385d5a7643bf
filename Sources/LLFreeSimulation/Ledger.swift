// What the simulated clients were told: every acknowledged run they hold, and the operations
// that were in flight when a crash came. The oracle judges a recovered pool against it.

import LLFree

/// An allocator operation issued by a simulated client.
public enum SimOperation: Sendable, Equatable, CustomStringConvertible {
    case get(order: Int, kind: Kind)
    case getAt(frame: UInt64, order: Int)
    case put(frame: UInt64, order: Int)

    public var description: String {
        switch self {
        case .get(let order, let kind): return "get(order: \(order), kind: \(kind))"
        case .getAt(let frame, let order): return "get(at: \(frame), order: \(order))"
        case .put(let frame, let order): return "put(\(frame), order: \(order))"
        }
    }

    /// Frames this operation could leave allocated if it was cut short (gets) or whose state is
    /// open (puts).
    var frames: UInt64 {
        switch self {
        case .get(let order, _), .getAt(_, let order), .put(_, let order): return 1 << UInt64(order)
        }
    }
}

/// Runs acknowledged to the simulated clients, and operations in flight per thread.
/// A reference type: the workload updates it while crash checks read it in the middle of an operation.
public final class Ledger: @unchecked Sendable {
    /// First frame -> order of every run a client holds.
    public private(set) var held: [UInt64: Int] = [:]
    /// The operation each simulated thread has in flight.
    public var inFlight: [Int: SimOperation] = [:]

    public init() {}

    /// Records an acknowledged get; false if some of its frames were held already (a frame
    /// handed out twice).
    public func acknowledgeGet(_ frame: UInt64, order: Int) -> Bool {
        let end = frame + (1 << UInt64(order))
        let overlap = held.contains { start, o in start < end && frame < start + (1 << UInt64(o)) }
        held[frame] = order
        return !overlap
    }

    /// Records that a client sends a put: from now on its frames are not held (they are open
    /// until the put is acknowledged). A put of a part of a held huge frame splits it: the rest of
    /// that frame stays held, as base frames.
    public func beginPut(_ frame: UInt64, order: Int) {
        if held[frame] == order {
            held[frame] = nil
            return
        }
        let start = frame & ~UInt64(Geometry.childFrames - 1)
        if held[start] == Geometry.hugeOrder, order < Geometry.hugeOrder {
            held[start] = nil
            for f in start..<(start + UInt64(Geometry.childFrames)) where f < frame || f >= frame + (1 << UInt64(order)) {
                held[f] = 0
            }
        }
    }

    /// A held run that a client may put, chosen by `pick` from the sorted list of held runs.
    public func heldRun(_ index: Int) -> (frame: UInt64, order: Int)? {
        guard !held.isEmpty else { return nil }
        let keys = held.keys.sorted()
        let frame = keys[index % keys.count]
        return (frame, held[frame]!)
    }

    public var heldCount: Int { held.count }
}
