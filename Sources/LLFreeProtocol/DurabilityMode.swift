// How the daemon makes the pool's state durable, as announced in the hello reply.

/// The persistence backend behind the pool, as a wire byte.
public enum DurabilityMode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Volatile memory: nothing survives the daemon.
    case volatile = 0
    /// Persistent memory: cache-line flushes and a fence (libpmem) before each reply.
    case pmem = 1
    /// A mapped file on ordinary storage: msync before each reply.
    case msync = 2
    /// Cache-line flushes and a fence on a mapping that is not persistent memory (tmpfs, page
    /// cache): survives a crash of the daemon, not a power cut.
    case cpuCache = 3

    public var description: String {
        switch self {
        case .volatile: return "volatile"
        case .pmem: return "pmem"
        case .msync: return "msync"
        case .cpuCache: return "cpu-cache"
        }
    }
}
