// The process's file-descriptor limit: every client connection is a descriptor, so the daemon
// raises its soft RLIMIT_NOFILE to the hard limit at start (the default soft limit, often 1024,
// is far below what a busy host's clients need) and sizes its connection cap from the result, so
// that it refuses connections with a reason before accept would fail with EMFILE.

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// RLIMIT_NOFILE, read and raised.
public struct FileDescriptorLimit: Sendable, Equatable, CustomStringConvertible {
    /// The soft limit before ``raise()``.
    public let before: UInt64
    /// The soft limit now.
    public let soft: UInt64
    /// The hard limit (the ceiling ``raise()`` raised to).
    public let hard: UInt64
    /// Why the soft limit could not be raised, nil if it was (or already was at the hard limit).
    public let failure: String?

    /// Raises the soft limit to the hard one and reports both. A failure leaves the limit as it
    /// was and is reported in ``failure``, not thrown: the daemon serves with the lower limit.
    public static func raise() -> FileDescriptorLimit {
        var limit = rlimit()
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false) { getrlimit(RLIMIT_NOFILE_VALUE, &limit) }
        } catch {
            return FileDescriptorLimit(before: 1024, soft: 1024, hard: 1024, failure: "getrlimit: \(error); assuming 1024")
        }
        let before = UInt64(limit.rlim_cur)
        let hard = UInt64(limit.rlim_max)
        guard limit.rlim_cur < limit.rlim_max else {
            return FileDescriptorLimit(before: before, soft: before, hard: hard, failure: nil)
        }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false) { setrlimit(RLIMIT_NOFILE_VALUE, &raised) }
        } catch {
            return FileDescriptorLimit(before: before, soft: before, hard: hard, failure: "setrlimit: \(error); the soft limit stays")
        }
        return FileDescriptorLimit(before: before, soft: hard, hard: hard, failure: nil)
    }

    public var description: String { "soft \(soft) (was \(before)), hard \(hard)" }
}

#if canImport(Glibc)
/// Glibc imports RLIMIT_NOFILE as an enum case of `__rlimit_resource`; get/setrlimit take it as that type.
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif
