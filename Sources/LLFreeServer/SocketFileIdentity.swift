// Which file a bound socket is: its device and inode, recorded right after bind, so that shutdown
// removes the socket this daemon bound and never one another daemon bound at the same path since.

#if canImport(Glibc)
import Glibc
#endif

/// The device and inode of a socket file.
public struct SocketFileIdentity: Equatable, Sendable, CustomStringConvertible {
    let device: UInt64
    let inode: UInt64

    /// The identity of the socket file at `path` (not following a symlink); nil if there is no
    /// socket file there.
    public static func of(_ path: String) -> SocketFileIdentity? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return SocketFileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    public var description: String { "device \(device) inode \(inode)" }
}
