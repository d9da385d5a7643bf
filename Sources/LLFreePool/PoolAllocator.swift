// The allocator of an open pool file, whichever persistence its durability mode needs. The
// allocator is generic over its persistence so the hot path specialises; this enum is the one
// place where the choice becomes a value, and a visitor gets the typed allocator back.

import LLFree

/// Code that works with an open pool's allocator whatever its persistence: `visit` is called
/// with the concrete, specialisable type.
public protocol PoolAllocatorVisitor {
    associatedtype Result
    associatedtype Failure: Error = Never
    func visit<P: Persistence>(_ image: PoolImage<P>) throws(Failure) -> Result
}

/// An open pool's image and allocator, by persistence.
public enum PoolAllocator: @unchecked Sendable {
    /// `pmem` and `cpu-cache` modes: `pmem_flush` and `pmem_drain`.
    case pmem(PoolImage<PmemPersistence>)
    /// `msync` mode.
    case msync(PoolImage<MsyncPersistence>)

    /// Calls `visitor` with the image of the concrete persistence type. Inlinable, so that the
    /// caller's visitor is specialised for that type across modules (otherwise every get and put
    /// would go through generic metadata and witness tables).
    @inlinable
    public func visit<V: PoolAllocatorVisitor>(_ visitor: V) throws(V.Failure) -> V.Result {
        switch self {
        case .pmem(let image): return try visitor.visit(image)
        case .msync(let image): return try visitor.visit(image)
        }
    }

    /// The header as validated at open.
    public var header: PoolHeader {
        switch self {
        case .pmem(let image): return image.header
        case .msync(let image): return image.header
        }
    }

    /// What open found and did.
    public var report: OpenReport {
        switch self {
        case .pmem(let image): return image.report
        case .msync(let image): return image.report
        }
    }

    /// Free frames by the child counters (exact when no operation is in flight).
    public var freeFrames: Int {
        switch self {
        case .pmem(let image): return image.allocator.freeFrames
        case .msync(let image): return image.allocator.freeFrames
        }
    }

    /// Free huge frames by the bitfields and huge flags.
    public var freeHugeFrames: Int {
        switch self {
        case .pmem(let image): return image.allocator.freeHugeFrames
        case .msync(let image): return image.allocator.freeHugeFrames
        }
    }

    /// Problems of the allocator's state (``LLFree/validate()``); empty if consistent.
    public func validate() -> [String] {
        switch self {
        case .pmem(let image): return image.allocator.validate()
        case .msync(let image): return image.allocator.validate()
        }
    }

    func close() {
        switch self {
        case .pmem(let image): image.close()
        case .msync(let image): image.close()
        }
    }

    func withReport(_ change: (inout OpenReport) -> Void) -> PoolAllocator {
        switch self {
        case .pmem(let image): return .pmem(image.withReport(change))
        case .msync(let image): return .msync(image.withReport(change))
        }
    }
}
