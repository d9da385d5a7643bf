// Reads a SOL_SOCKET option of a channel synchronously. On the channel's own event loop NIO
// reads the option at once and hands back a completed future, so the value (or the error) is
// there before `whenComplete` returns; the connection handler needs it in channelActive, before
// any request is read.

import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A socket option read on the channel's event loop.
enum SynchronousOption {
    /// The SOL_SOCKET option `name` read into a `Value` (whose size is the buffer length passed
    /// to getsockopt; NIO zeroes the buffer first and ignores the length the kernel returns).
    static func read<Value: Sendable>(_ type: Value.Type, _ name: Int32, from provider: SocketOptionProvider) -> Result<Value, Error> {
        #if canImport(Glibc)
        let future: EventLoopFuture<Value> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                                            name: SocketOptionName(name))
        let outcome = OptionOutcome<Value>()
        future.whenComplete { outcome.result = $0 }
        return outcome.result
        #else
        return .failure(ServerError.internalError("socket options are only read on Linux"))
        #endif
    }
}
