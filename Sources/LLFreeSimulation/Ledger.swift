// What the simulated clients were told: every acknowledged run they hold and which owner holds
// it, the owners created and their root values, and the operations that were in flight when a
// crash came. The oracle judges a recovered pool against it.

import LLFree
import LLFreePool

/// An allocator or owner-table operation issued by a simulated client.
public enum SimOperation: Sendable, Equatable, CustomStringConvertible {
    case get(order: Int, kind: Kind, owner: OwnerID)
    case getAt(frame: UInt64, order: Int, owner: OwnerID)
    case put(frame: UInt64, order: Int, owner: OwnerID)
    /// A batch get of `count` order-0 frames (the core's bulk path).
    case getBatch(count: Int, owner: OwnerID)
    /// A batch put of order-0 frames (the core's bulk path).
    case putBatch(frames: [UInt64], owner: OwnerID)
    /// A put by an owner that does not hold the run: must be refused and change nothing.
    case wrongPut(frame: UInt64, order: Int, owner: OwnerID)
    /// Compare-and-set of an owner's root from `old` to `new`.
    case setRoot(owner: OwnerID, old: [UInt8], new: [UInt8])
    /// Creation of an owner.
    case create(name: String, lifetime: OwnerLifetime)
    /// Setting an owner's quota from `old` to `new` (nil: none).
    case setQuota(owner: OwnerID, old: UInt64?, new: UInt64?)
    /// Removal of an owner that holds nothing.
    case remove(owner: OwnerID)

    public var description: String {
        switch self {
        case .get(let order, let kind, let owner): return "get(order: \(order), kind: \(kind), owner: \(owner))"
        case .getAt(let frame, let order, let owner): return "get(at: \(frame), order: \(order), owner: \(owner))"
        case .put(let frame, let order, let owner): return "put(\(frame), order: \(order), owner: \(owner))"
        case .getBatch(let count, let owner): return "get(order: 0, count: \(count), owner: \(owner)) (bulk)"
        case .putBatch(let frames, let owner): return "put(frames: \(frames.prefix(4))\(frames.count > 4 ? "..." : "") (\(frames.count)), order: 0, owner: \(owner)) (bulk)"
        case .wrongPut(let frame, let order, let owner): return "put(\(frame), order: \(order), owner: \(owner)) by an owner that does not hold it"
        case .setRoot(let owner, let old, let new): return "compareAndSetRoot(owner: \(owner), \(old.first ?? 0)... -> \(new.first ?? 0)...)"
        case .create(let name, let lifetime): return "create(\"\(name)\", \(lifetime))"
        case .setQuota(let owner, let old, let new): return "setQuota(owner: \(owner), \(old.map(String.init) ?? "none") -> \(new.map(String.init) ?? "none"))"
        case .remove(let owner): return "remove(owner: \(owner))"
        }
    }
}

/// Runs acknowledged to the simulated clients, and operations in flight per thread.
/// A reference type: the workload updates it while crash checks read it in the middle of an operation.
public final class Ledger: @unchecked Sendable {
    /// First frame -> order of every run a client holds.
    public private(set) var held: [UInt64: Int] = [:]
    /// First frame -> owner of every run in ``held``.
    public private(set) var holder: [UInt64: OwnerID] = [:]
    /// Runs a wrong-owner put is trying to free: no other client puts them meanwhile.
    public var busy: Set<UInt64> = []
    /// Owners whose creation was acknowledged, with their lifetime and name, in creation order.
    public private(set) var owners: [(id: OwnerID, name: String, lifetime: OwnerLifetime)] = []
    /// Acknowledged root value of every owner created.
    public var roots: [OwnerID: [UInt8]] = [:]
    /// Acknowledged quota of every owner created (nil: none).
    public var quotas: [OwnerID: UInt64?] = [:]
    /// Temporary owners (created and removed by churn steps, never holding a frame) whose
    /// creation was acknowledged and whose removal was not, by slot.
    public var temporary: [Int: OwnerRecord] = [:]
    /// Ids of temporary owners whose removal was acknowledged (and not reused since).
    public var removed: Set<OwnerID> = []
    /// The operation each simulated thread has in flight.
    public var inFlight: [Int: SimOperation] = [:]

    public init() {}

    /// Records an acknowledged owner creation.
    public func acknowledgeCreate(_ record: OwnerRecord) {
        owners.append((record.id, record.name, record.lifetime))
        roots[record.id] = [UInt8](repeating: 0, count: OwnerTableLayout.rootSize)
        quotas[record.id] = record.quota
    }

    public func lifetime(_ owner: OwnerID) -> OwnerLifetime? { owners.first { $0.id == owner }?.lifetime }

    /// Records an acknowledged get by `owner`; false if some of its frames were held already (a
    /// frame handed out twice).
    public func acknowledgeGet(_ frame: UInt64, order: Int, owner: OwnerID) -> Bool {
        let end = frame + (1 << UInt64(order))
        let overlap = held.contains { start, o in start < end && frame < start + (1 << UInt64(o)) }
        held[frame] = order
        holder[frame] = owner
        return !overlap
    }

    /// Records that a client sends a put: from now on its frames are not held (they are open
    /// until the put is acknowledged). A put of a part of a held huge frame splits it: the rest of
    /// that frame stays held by the same owner, as runs of the put's order (how the split tags
    /// them).
    public func beginPut(_ frame: UInt64, order: Int) {
        if held[frame] == order {
            held[frame] = nil
            holder[frame] = nil
            return
        }
        let start = frame & ~UInt64(Geometry.childFrames - 1)
        if held[start] == Geometry.hugeOrder, order < Geometry.hugeOrder, let owner = holder[start] {
            held[start] = nil
            holder[start] = nil
            for f in stride(from: start, to: start + UInt64(Geometry.childFrames), by: 1 << order) where f != frame {
                held[f] = order
                holder[f] = owner
            }
        }
    }

    /// Forgets the runs of ephemeral owners (a clean close and open frees them).
    public func dropEphemeral() {
        for (frame, owner) in holder where lifetime(owner) != .persistent {
            held[frame] = nil
            holder[frame] = nil
        }
    }

    /// A held run that a client may put, chosen by `index` from the sorted list of held runs
    /// (runs a wrong-owner put is trying are left out).
    public func heldRun(_ index: Int) -> (frame: UInt64, order: Int, owner: OwnerID)? {
        let keys = held.keys.filter { !busy.contains($0) }.sorted()
        guard !keys.isEmpty else { return nil }
        let frame = keys[index % keys.count]
        return (frame, held[frame]!, holder[frame]!)
    }

    public var heldCount: Int { held.count }
}
