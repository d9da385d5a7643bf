// A peer's supplementary groups, as SO_PEERGROUPS (Linux 4.13) reports them: the groups the
// process had when it connected, so `usermod -aG llfreed alice` lets alice's processes in through
// `access.gids` even though their primary group is alice's own.

import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The supplementary gids of a socket's peer, or why they could not be read.
public enum PeerGroups: Sendable, Equatable, CustomStringConvertible {
    /// The peer's supplementary gids, ascending.
    case known([UInt32])
    /// SO_PEERGROUPS failed (an older kernel, or more groups than the daemon reads): only the
    /// primary gid can admit the peer by group.
    case unavailable(String)

    /// Most groups read; a peer with more is judged by its primary gid only (NGROUPS_MAX is
    /// 65536, but a buffer that size would be copied through several stack frames of NIO).
    public static let limit = 4096

    public var description: String {
        switch self {
        case .known(let gids):
            let shown = gids.prefix(32).map(String.init).joined(separator: ",")
            return "groups [\(shown)\(gids.count > 32 ? ",… (\(gids.count) in all)" : "")]"
        case .unavailable(let why):
            return "groups unknown (\(why))"
        }
    }

    /// Reads the peer's supplementary groups. Call on the channel's event loop.
    ///
    /// NIO passes getsockopt a zeroed buffer the size of the value type and drops the length the
    /// kernel writes back, so the number of gids is not reported. The kernel fills the first n
    /// slots with the groups sorted by gid (the order setgroups stores them in) and fails with
    /// ERANGE if n slots do not fit; the gids are therefore the slots up to the last non-zero
    /// one. Only an all-zero buffer is ambiguous (no groups, or group 0): a zero-length read
    /// tells, since it succeeds exactly when there are no groups. In a user namespace the
    /// mapped gids may not be sorted; then a group 0 after a non-zero gid is dropped, which
    /// can only refuse a peer, never admit one.
    static func read(from provider: SocketOptionProvider) -> PeerGroups {
        #if canImport(Glibc)
        let slots: [UInt32]
        switch SynchronousOption.read(Gids64.self, soPeerGroups, from: provider) {
        case .success(let buffer):
            slots = buffer.gids
        case .failure(let error) where errno(of: error) == ERANGE:
            switch SynchronousOption.read(Gids4096.self, soPeerGroups, from: provider) {
            case .success(let buffer):
                slots = buffer.gids
            case .failure(let error) where errno(of: error) == ERANGE:
                return .unavailable("the peer has more than \(limit) supplementary groups")
            case .failure(let error):
                return .unavailable("SO_PEERGROUPS: \(error)")
            }
        case .failure(let error):
            return .unavailable("SO_PEERGROUPS: \(error)")
        }
        if let last = slots.lastIndex(where: { $0 != 0 }) {
            return .known(Array(slots[...last]).sorted())
        }
        switch SynchronousOption.read(Void.self, soPeerGroups, from: provider) {
        case .success: return .known([])
        case .failure(let error) where errno(of: error) == ERANGE: return .known([0])
        case .failure(let error): return .unavailable("SO_PEERGROUPS: \(error)")
        }
        #else
        return .unavailable("SO_PEERGROUPS is only supported on Linux")
        #endif
    }

    /// SO_PEERGROUPS from <asm-generic/socket.h>; Glibc's headers may predate it.
    static let soPeerGroups: Int32 = 59

    private static func errno(of error: Error) -> Int32? {
        (error as? IOError)?.errnoCode
    }
}
