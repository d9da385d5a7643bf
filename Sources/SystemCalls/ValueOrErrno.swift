// The C calls swift-system's FileDescriptor does not wrap (sockets, poll, fstat, flock, fsync,
// mmap, getrlimit, ...) made into calls that throw Errno, in the style of swift-system's own
// internal valueOrErrno(retryOnInterrupt:_:), which it does not export. Every module that makes
// system calls uses these, so an interrupted call (EINTR) is retried in this one place only.

import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Calls `call`, a C function that returns -1 and sets `errno` when it fails, and returns what
/// it returned.
///
/// Inlined, so a call on a hot path costs what the C call costs: the closure is not escaping
/// and the error is typed (no allocation).
/// - Parameters:
///   - retryOnInterrupt: whether to call again when it failed with `EINTR` (a signal arrived
///     before it did anything). Pass false for a call that must not be repeated as it was
///     (`connect`, whose interrupted attempt goes on in the kernel) or that never blocks.
///   - call: the C call; pass a pointer to a buffer inside it, not a Swift array, to avoid a copy.
/// - Throws: the `Errno` of the failure (not `EINTR` when `retryOnInterrupt`).
@inlinable @discardableResult
public func valueOrErrno<Value: FixedWidthInteger & SignedInteger>(
    retryOnInterrupt: Bool, _ call: () -> Value
) throws(Errno) -> Value {
    while true {
        let value = call()
        guard value == -1 else { return value }
        let error = Errno(rawValue: errno)
        guard retryOnInterrupt && error == .interrupted else { throw error }
    }
}

/// Calls `call`, a C function that returns 0 when it succeeds and the errno value of its failure
/// otherwise (as pthread and posix_* calls do, and the CLinuxShims readers), leaving `errno` alone.
/// - Parameters:
///   - retryOnInterrupt: whether to call again when it returned `EINTR`.
///   - call: the C call.
/// - Throws: the `Errno` it returned.
@inlinable
public func nothingOrReturnedErrno(retryOnInterrupt: Bool, _ call: () -> CInt) throws(Errno) {
    while true {
        let result = call()
        if result == 0 { return }
        let error = Errno(rawValue: result)
        guard retryOnInterrupt && error == .interrupted else { throw error }
    }
}
