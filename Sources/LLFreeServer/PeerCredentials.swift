// The credentials of the process at the other end of a Unix socket, as the kernel reports them
// (SO_PEERCRED): the basis of the access policy, which a client cannot forge.

import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A connected peer's process, user and group ids. The stored properties have the layout of
/// Linux's `struct ucred` (pid, uid, gid), which the server reads into this type directly.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }

    /// The credentials of `channel`'s peer, from the kernel. Call on the channel's event loop.
    static func read(from channel: Channel) -> Result<PeerCredentials, Error> {
        guard let provider = channel as? SocketOptionProvider else {
            return .failure(ServerError.internalError("the channel gives no access to socket options"))
        }
        #if canImport(Glibc)
        // Glibc declares `struct ucred` only under _GNU_SOURCE; PeerCredentials has its layout.
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        // On the channel's own loop the option is read synchronously and the future is already
        // complete, so the callback runs before `whenComplete` returns.
        let outcome = Outcome()
        future.whenComplete { outcome.result = $0 }
        return outcome.result
        #else
        return .failure(ServerError.internalError("SO_PEERCRED is only supported on Linux"))
        #endif
    }
}

/// Receives the result of a future that completes synchronously.
private final class Outcome: @unchecked Sendable {
    var result: Result<PeerCredentials, Error> = .failure(ServerError.internalError("SO_PEERCRED did not complete synchronously"))
}
