// The credentials of the process at the other end of a Unix socket, as the kernel reports them
// (SO_PEERCRED for pid, uid and primary gid; SO_PEERGROUPS for the supplementary groups): the
// basis of the access policy, which a client cannot forge. Read from the channel's descriptor
// through the CLinuxShims target, which sees glibc's `struct ucred`.

import CLinuxShims
import NIOCore
import SystemCalls
import SystemPackage

/// A connected peer's process, user and group ids, as they were when it connected.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    /// The primary gid.
    public var gid: UInt32
    /// The supplementary groups, or why they are not known (then only ``gid`` can admit by group).
    public var groups: PeerGroups

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: PeerGroups = .unavailable("not read")) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid) \(groups)" }

    /// The credentials of `channel`'s peer, from the kernel. Call on the channel's event loop.
    /// Fails only if SO_PEERCRED fails; supplementary groups that cannot be read are recorded
    /// in ``groups`` as unavailable (the peer is then judged by its uid and primary gid).
    static func read(from channel: Channel) -> Result<PeerCredentials, ServerError> {
        let credentials: Result<PeerCredentials, ServerError>?
        do {
            credentials = try channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { fd in
                Self.read(descriptor: fd)
            }
        } catch {
            return .failure(.internalError("the channel's descriptor is not available: \(error)"))
        }
        return credentials ?? .failure(.internalError("the channel gives no access to its descriptor"))
    }

    /// The credentials of the peer of the connected Unix socket `fd`.
    static func read(descriptor fd: CInt) -> Result<PeerCredentials, ServerError> {
        var cred = llfree_peer_cred_t()
        do throws(Errno) {
            try nothingOrReturnedErrno(retryOnInterrupt: false) { llfree_peer_cred(fd, &cred) }
        } catch {
            return .failure(.internalError("SO_PEERCRED: \(error)"))
        }
        return .success(PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid, groups: PeerGroups.read(descriptor: fd)))
    }
}
