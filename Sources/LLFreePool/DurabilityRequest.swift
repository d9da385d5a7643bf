// What the caller asks for when opening or formatting a pool file; the pool decides the mode
// in effect (DurabilityMode) from this and from what libpmem reports about the mapping.

/// The durability a caller asks for.
public enum DurabilityRequest: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `pmem` where `pmem_is_pmem` says so, otherwise `msync` (the durable choice for a file).
    case automatic = "auto"
    /// `pmem` where the mapping is persistent memory, otherwise `cpu-cache`.
    case cpuCache = "cpu-cache"
    /// `msync`, even on persistent memory.
    case msync

    public var description: String { rawValue }

    /// The mode in effect for a mapping of which `pmem_is_pmem` said `isPmem`, and why.
    public func resolve(isPmem: Bool) -> Durability {
        let forced = getenvString("PMEM_IS_PMEM_FORCE") == "1"
        let pmemWhy = forced
            ? "pmem_is_pmem reports persistent memory (forced by PMEM_IS_PMEM_FORCE=1: survives a process crash, a power cut only if the media really is pmem)"
            : "pmem_is_pmem reports persistent memory"
        switch (self, isPmem) {
        case (.msync, _):
            return Durability(mode: .msync, reason: "msync requested: each fence msyncs the touched pages")
        case (_, true):
            return Durability(mode: .pmem, reason: pmemWhy)
        case (.automatic, false):
            return Durability(mode: .msync, reason: "the mapping is not persistent memory, so pages are msynced at each fence (ask for cpu-cache to trade power-cut durability for speed)")
        case (.cpuCache, false):
            return Durability(mode: .cpuCache, reason: "cpu-cache requested on a mapping that is not persistent memory: survives a process crash, not a power cut")
        }
    }
}

/// The durability mode in effect and why it was chosen.
public struct Durability: Sendable, Equatable, CustomStringConvertible {
    public let mode: DurabilityMode
    public let reason: String

    public var description: String { "\(mode) (\(reason))" }
}

#if canImport(Glibc)
import Glibc
#endif

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
