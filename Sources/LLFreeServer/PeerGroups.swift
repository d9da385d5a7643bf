// A peer's supplementary groups, as SO_PEERGROUPS (Linux 4.13) reports them: the groups the
// process had when it connected, so `usermod -aG llfreed alice` lets alice's processes in through
// `access.gids` even though their primary group is alice's own.

import CLinuxShims
import SystemPackage
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

    /// Most groups read: NGROUPS_MAX on Linux, so every peer's groups are known on a kernel that
    /// has SO_PEERGROUPS.
    public static let limit = 65536

    public var description: String {
        switch self {
        case .known(let gids):
            let shown = gids.prefix(32).map(String.init).joined(separator: ",")
            return "groups [\(shown)\(gids.count > 32 ? ",… (\(gids.count) in all)" : "")]"
        case .unavailable(let why):
            return "groups unknown (\(why))"
        }
    }

    /// Reads the supplementary groups of the peer of the connected Unix socket `fd`. The kernel
    /// reports how many gids it wrote (or, with ERANGE, how many there are): a small buffer on
    /// the stack serves nearly every peer, a second read sized by the kernel serves the rest.
    static func read(descriptor fd: CInt) -> PeerGroups {
        let first = 64
        var outcome = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: first) { read(fd, into: $0) }
        if case .tooMany(let needed) = outcome {
            guard needed <= limit else { return .unavailable("the peer has \(needed) supplementary groups, more than \(limit)") }
            // Groups can only change by a new connection; one more try covers a racing kernel.
            outcome = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: needed) { read(fd, into: $0) }
        }
        switch outcome {
        case .read(let gids): return .known(gids.sorted())
        case .tooMany(let needed): return .unavailable("SO_PEERGROUPS: \(needed) groups did not fit")
        case .failed(let errno): return .unavailable("SO_PEERGROUPS: \(errno)")
        }
    }

    private enum Outcome {
        case read([UInt32])
        case tooMany(Int)
        case failed(Errno)
    }

    private static func read(_ fd: CInt, into buffer: UnsafeMutableBufferPointer<UInt32>) -> Outcome {
        var count: UInt32 = 0
        let error = llfree_peer_groups(fd, buffer.baseAddress, UInt32(buffer.count), &count)
        switch error {
        case 0: return .read(Array(buffer.prefix(Int(count))))
        case ERANGE: return .tooMany(Int(count))
        default: return .failed(Errno(rawValue: error))
        }
    }
}
