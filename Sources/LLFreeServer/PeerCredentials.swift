// The credentials of the process at the other end of a Unix socket, as the kernel reports them
// (SO_PEERCRED for pid, uid and primary gid; SO_PEERGROUPS for the supplementary groups): the
// basis of the access policy, which a client cannot forge.

import NIOCore
#if canImport(Glibc)
import Glibc
#endif

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
    static func read(from channel: Channel) -> Result<PeerCredentials, Error> {
        guard let provider = channel as? SocketOptionProvider else {
            return .failure(ServerError.internalError("the channel gives no access to socket options"))
        }
        #if canImport(Glibc)
        switch SynchronousOption.read(UCred.self, SO_PEERCRED, from: provider) {
        case .failure(let error):
            return .failure(error)
        case .success(let cred):
            return .success(PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid, groups: PeerGroups.read(from: provider)))
        }
        #else
        return .failure(ServerError.internalError("SO_PEERCRED is only supported on Linux"))
        #endif
    }
}
