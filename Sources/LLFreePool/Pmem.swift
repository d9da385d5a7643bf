// Thin typed wrappers over the libpmem calls llfreed uses, one per C call and named after it, so
// the rest of the pool never touches a C pointer or an error code directly. This and the
// persistence types are the only places that call libpmem.

import CLibPmem
#if canImport(Glibc)
import Glibc
#endif

/// libpmem, one static function per C call (the doc comment names the call it wraps).
public enum Pmem {
    /// Flags of ``mapFile(path:length:flags:mode:)`` (`PMEM_FILE_*`).
    public struct MapFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// `PMEM_FILE_CREATE`: create the file if it does not exist.
        public static let create = MapFlags(rawValue: PMEM_FILE_CREATE)
        /// `PMEM_FILE_EXCL`: with `create`, fail if the file exists.
        public static let exclusive = MapFlags(rawValue: PMEM_FILE_EXCL)
        /// `PMEM_FILE_SPARSE`: with `create`, do not allocate the file's blocks.
        public static let sparse = MapFlags(rawValue: PMEM_FILE_SPARSE)
    }

    /// A mapping made by ``mapFile(path:length:flags:mode:)``.
    public struct Mapping: @unchecked Sendable {
        /// First byte of the mapping (page aligned).
        public let base: UnsafeMutableRawPointer
        /// Bytes mapped.
        public let length: Int
        /// What `pmem_map_file` reported through `is_pmemp`: the whole range is persistent memory.
        public let isPmem: Bool
    }

    /// Wraps `pmem_map_file`: maps `path` writable (the whole file when `length` is 0).
    public static func mapFile(path: String, length: Int = 0, flags: MapFlags = [], mode: mode_t = 0) throws(SystemFailure) -> Mapping {
        var mapped = 0
        var isPmem: Int32 = 0
        guard let base = pmem_map_file(path, length, flags.rawValue, mode, &mapped, &isPmem) else {
            throw SystemFailure(call: "pmem_map_file", errno: errno, message: errorMessage())
        }
        return Mapping(base: base, length: mapped, isPmem: isPmem != 0)
    }

    /// Wraps `pmem_unmap`.
    public static func unmap(_ base: UnsafeMutableRawPointer, length: Int) throws(SystemFailure) {
        guard pmem_unmap(base, length) == 0 else {
            throw SystemFailure(call: "pmem_unmap", errno: errno, message: errorMessage())
        }
    }

    /// Wraps `pmem_is_pmem`: whether the whole range is persistent memory (honours
    /// `PMEM_IS_PMEM_FORCE`, read once at the first call in the process).
    public static func isPmem(_ address: UnsafeRawPointer, length: Int) -> Bool {
        pmem_is_pmem(address, length) != 0
    }

    /// Wraps `pmem_flush`: starts writing back the CPU cache lines of the range; durable only
    /// after ``drain()``.
    @inlinable @inline(__always)
    public static func flush(_ address: UnsafeRawPointer, length: Int) {
        pmem_flush(address, length)
    }

    /// Wraps `pmem_drain`: the store fence that makes every earlier flush of this thread durable.
    @inlinable @inline(__always)
    public static func drain() {
        pmem_drain()
    }

    /// Wraps `pmem_persist`: flush and drain in one call.
    @inlinable @inline(__always)
    public static func persist(_ address: UnsafeRawPointer, length: Int) {
        pmem_persist(address, length)
    }

    /// Wraps `pmem_msync`: writes the pages of the range back to the file with `msync(2)`.
    public static func msync(_ address: UnsafeRawPointer, length: Int) throws(SystemFailure) {
        guard pmem_msync(address, length) == 0 else {
            throw SystemFailure(call: "pmem_msync", errno: errno, message: errorMessage())
        }
    }

    /// Wraps `pmem_errormsg`: libpmem's text for the last error of this thread.
    public static func errorMessage() -> String {
        guard let text = pmem_errormsg() else { return "" }
        return String(cString: text)
    }
}
