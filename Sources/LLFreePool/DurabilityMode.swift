// How durable an acknowledged get or put is on the pool's media, and which persistence
// implementation delivers it.

/// The durability in effect for an open pool.
public enum DurabilityMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The mapping is persistent memory (`pmem_is_pmem`): CPU cache flushes and one drain per
    /// operation; survives a power cut on an ADR platform.
    case pmem
    /// The same flushes and drain on a mapping that is not persistent memory (tmpfs, a page-cache
    /// file): survives a crash of the process, not a power cut.
    case cpuCache = "cpu-cache"
    /// `msync` of the touched pages at each fence: durable on a disk file; slower.
    case msync

    public var description: String { rawValue }
}
