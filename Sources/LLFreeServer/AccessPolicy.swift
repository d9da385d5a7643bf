// Who may talk to the daemon: a peer is admitted if its uid is allowed, or its primary gid or any
// of its supplementary groups is. The default admits the daemon's own user and root, which with
// the socket's mode 0660 keeps the frames of a pool to the people who own it.

import LLFreeProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The uids and gids whose processes are served.
public struct AccessPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Users admitted.
    public var uids: Set<UInt32>
    /// Groups admitted: a peer is admitted if its primary gid (SO_PEERCRED) or one of its
    /// supplementary gids (SO_PEERGROUPS) is here.
    public var gids: Set<UInt32>
    /// Users who may act for every owner (attach to it, list and release its frames, set
    /// quotas, remove owners). Being admitted is still required.
    public var admins: Set<UInt32>
    /// Users who receive the frames descriptor read-only (they can read frames, never write
    /// them); administrators always receive it read-write.
    public var readOnlyUIDs: Set<UInt32>
    /// Groups whose members (primary or supplementary) receive it read-only.
    public var readOnlyGIDs: Set<UInt32>

    public init(uids: Set<UInt32>, gids: Set<UInt32> = [], admins: Set<UInt32> = AccessPolicy.defaultAdmins,
                readOnlyUIDs: Set<UInt32> = [], readOnlyGIDs: Set<UInt32> = []) {
        self.uids = uids
        self.gids = gids
        self.admins = admins
        self.readOnlyUIDs = readOnlyUIDs
        self.readOnlyGIDs = readOnlyGIDs
    }

    /// How `peer` may use the frames descriptor: read-only if its uid or one of its groups is
    /// listed read-only (unless it is an administrator), else read-write.
    public func framesAccess(of peer: PeerCredentials) -> FramesAccess {
        if admins.contains(peer.uid) { return .readWrite }
        if readOnlyUIDs.contains(peer.uid) || readOnlyGIDs.contains(peer.gid) { return .readOnly }
        if case .known(let groups) = peer.groups, groups.contains(where: readOnlyGIDs.contains) { return .readOnly }
        return .readWrite
    }

    /// The daemon's own uid and root: they can open the pool file anyway.
    public static var defaultAdmins: Set<UInt32> { [UInt32(getuid()), 0] }

    /// The daemon's own uid and root.
    public static var `default`: AccessPolicy { AccessPolicy(uids: [UInt32(getuid()), 0]) }

    /// nil if `peer` is admitted, else why not (for the error reply and the log).
    public func refusal(of peer: PeerCredentials) -> String? {
        if uids.contains(peer.uid) || gids.contains(peer.gid) { return nil }
        let refused = "peer \(peer) is not admitted: allowed uids \(uids.sorted()), gids \(gids.sorted())"
        switch peer.groups {
        case .known(let groups):
            if groups.contains(where: gids.contains) { return nil }
            return refused
        case .unavailable(let why):
            // Say so: a member of an allowed group would otherwise not know why it is refused.
            if gids.isEmpty { return refused }
            return refused + "; its supplementary groups could not be read (\(why)), so only its primary gid was checked"
        }
    }

    public var description: String {
        "uids \(uids.sorted()), gids \(gids.sorted()), admins \(admins.sorted())"
            + (readOnlyUIDs.isEmpty && readOnlyGIDs.isEmpty ? "" : ", frames read-only for uids \(readOnlyUIDs.sorted()), gids \(readOnlyGIDs.sorted())")
    }
}
