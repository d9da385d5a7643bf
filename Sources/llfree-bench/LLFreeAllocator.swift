// LLFree behind the benchmark's BenchAllocator protocol, generic over its persistence so the
// same adapter times the volatile build and the counting one. The core's get and put are
// @inlinable @inline(__always) down to the fast path, so each timed loop holds that path inlined
// (only the slow path, stealing and draining, stays a call).

import LLFree

/// An ``LLFree`` over a heap region of its own, formatted with every frame free.
final class LLFreeAllocator<P: BenchPersistence>: BenchAllocator, @unchecked Sendable {
    static var name: String { "LLFree/\(P.label)" }

    let llfree: LLFree<P>
    let persistence: P
    let region: UnsafeMutableRawPointer

    init(frames: UInt64, cores: Int, order: Int) {
        do {
            let geometry = try Geometry(frames: frames)
            region = .allocate(byteCount: geometry.metadataSize, alignment: Geometry.lineSize)
            persistence = P.make()
            llfree = try LLFree(formatting: region, geometry: geometry, persistence: persistence, cores: cores)
        } catch {
            fatalError("cannot create LLFree for \(frames) frames: \(error)")
        }
    }

    deinit {
        persistence.destroy()
        region.deallocate()
    }

    @inline(__always)
    func get(order: Int, core: Int) -> UInt64? {
        do { return try llfree.get(order: order, core: core) } catch { return nil }
    }

    @inline(__always)
    func put(_ frame: UInt64, order: Int, core: Int) -> Bool {
        do { try llfree.put(frame, order: order, core: core) } catch { return false }
        return true
    }

    var freeFrames: Int { llfree.freeFrames }

    static func metadataBytes(frames: UInt64, cores: Int) -> Int {
        guard let geometry = try? Geometry(frames: frames) else { return 0 }
        // Persistent lower level, plus the volatile trees (4 bytes each) and one line per core.
        return geometry.metadataSize + geometry.trees * 4 + cores * Geometry.lineSize
    }

    func persistenceCounts() -> PersistenceCounts? { persistence.counts() }
}
