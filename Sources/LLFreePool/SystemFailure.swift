// A failed system or libpmem call, kept as data (which call, errno, the library's text) so the
// pool can wrap it into a PoolError that also names the file.

#if canImport(Glibc)
import Glibc
#endif

/// A system or libpmem call that failed.
public struct SystemFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The C call, e.g. `"pmem_map_file"` or `"open"`.
    public let call: String
    /// `errno` right after the call.
    public let errno: Int32
    /// libpmem's message, or `strerror(errno)` for plain system calls.
    public let message: String

    public init(call: String, errno: Int32, message: String? = nil) {
        self.call = call
        self.errno = errno
        self.message = message ?? String(cString: strerror(errno))
    }

    /// A failure of `call` described by the current `errno`.
    static func current(_ call: String) -> SystemFailure {
        SystemFailure(call: call, errno: Glibc.errno)
    }

    public var description: String { "\(call) failed: \(message) (errno \(errno))" }
}
