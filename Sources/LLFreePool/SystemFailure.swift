// A failed system or libpmem call, kept as data (which call, errno, the library's text) so the
// pool can wrap it into a PoolError that also names the file.

import SystemPackage

/// A system or libpmem call that failed.
public struct SystemFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The C call, e.g. `"pmem_map_file"` or `"open"`.
    public let call: String
    /// `errno` right after the call.
    public let errno: Int32
    /// libpmem's message, or the errno's text (`strerror`) for plain system calls.
    public let message: String

    public init(call: String, errno: Int32, message: String? = nil) {
        self.call = call
        self.errno = errno
        self.message = message ?? Errno(rawValue: errno).description
    }

    /// A failure of `call` as it was thrown: an `Errno`, typed by `valueOrErrno` and untyped by
    /// swift-system's `FileDescriptor` calls (which throw nothing else; another error would be
    /// kept by its text, with errno 0).
    init(call: String, _ error: any Error) {
        if let error = error as? Errno {
            self.init(call: call, errno: error.rawValue)
        } else {
            self.init(call: call, errno: 0, message: "\(error)")
        }
    }

    public var description: String { "\(call) failed: \(message) (errno \(errno))" }
}
