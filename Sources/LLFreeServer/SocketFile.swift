// The socket file's life: its directory must be one no other user can write to (a squatted
// directory would let its owner replace the socket and impersonate the daemon); a stale file left
// by a killed daemon is replaced, a live one (another daemon answers) is refused, anything that is
// not a socket is never touched; the daemon binds the socket itself, its mode coming from the
// umask at bind (no chmod by path, which a swapped file could redirect) and its group from
// lchown; and shutdown removes the file only if it is still the one this daemon bound (same
// device and inode).

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Operations on the socket's path.
public enum SocketFile {
    /// Longest socket path, in bytes of UTF-8: what `sockaddr_un.sun_path` holds less its
    /// terminating NUL (107 on Linux).
    public static let maxPath = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Makes `path` free to bind: checks its directory (creating it if missing), and removes a
    /// stale socket there.
    /// - Parameter mode: the socket's mode; a directory created here is 0700 when the socket is
    ///   for its owner only, else 0711 (others may pass through to the socket, whose own mode and
    ///   the access policy decide who connects, but not list or change the directory).
    /// - Throws: ``ServerError/socketInUse(_:)`` if a daemon answers on it,
    ///   ``ServerError/notASocket(_:)`` if it is another kind of file, ``ServerError/bind(path:reason:)``
    ///   if the directory is unsafe or cannot be made, or the stale socket cannot be removed.
    public static func prepare(_ path: String, mode: UInt32 = 0o600) throws(ServerError) {
        guard !path.isEmpty, path.utf8.count <= maxPath else {
            throw .bind(path: path, reason: "a Unix socket path has 1...\(maxPath) bytes")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try checkDirectory(String(path[..<slash]), of: path, mode: mode & 0o077 == 0 ? 0o700 : 0o711)
        }
        var info = stat()
        if let error = failure({ lstat(path, &info) }) {
            if error == .noSuchFileOrDirectory { return }
            throw .bind(path: path, reason: "cannot stat: \(error)")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        if isLive(path) { throw .socketInUse(path) }
        if let error = failure({ unlink(path) }), error != .noSuchFileOrDirectory {
            throw .bind(path: path, reason: "cannot remove the stale socket (left in place): \(error)")
        }
    }

    /// Creates `directory` with `mode` if it is missing, then refuses it unless only this daemon
    /// (or root) can change what is in it: owned by the daemon's effective uid or root, and not
    /// writable by group or others unless sticky (in a sticky directory, such as /tmp, only a
    /// file's owner can remove or rename it, so a bound socket cannot be replaced; a squatter's
    /// file at the path itself is caught by ``prepare(_:mode:)``). A symlink is followed only if
    /// it is the daemon's or root's, since its owner could point it elsewhere at any time.
    public static func checkDirectory(_ directory: String, of path: String, mode: mode_t) throws(ServerError) {
        func refuse(_ why: String) -> ServerError {
            .bind(path: path, reason: "directory \(directory) \(why); nothing was created or removed there. "
                + "Use a directory only this daemon's user (or root) can write to: remove or fix this one, or set "
                + "socket.path (or XDG_RUNTIME_DIR) elsewhere")
        }
        let euid = geteuid()
        var link = stat()
        if let error = failure({ lstat(directory, &link) }) {
            guard error == .noSuchFileOrDirectory else { throw refuse("cannot be examined: \(error)") }
            if let error = failure({ mkdir(directory, mode) }) {
                guard error == .fileExists else { throw refuse("cannot be created: \(error)") }
            } else if let error = failure({ chmod(directory, mode) }) {
                // mkdir applied the umask; the mode chosen above is what clients need to reach the socket.
                throw refuse("was created but its mode cannot be set to \(String(mode, radix: 8)): \(error)")
            }
            if let error = failure({ lstat(directory, &link) }) { throw refuse("cannot be examined: \(error)") }
        }
        var info = link
        if link.st_mode & S_IFMT == S_IFLNK {
            guard link.st_uid == euid || link.st_uid == 0 else {
                throw refuse("is a symlink owned by uid \(link.st_uid), not by this daemon's uid \(euid) or root: its owner could redirect it")
            }
            if let error = failure({ stat(directory, &info) }) { throw refuse("is a symlink that cannot be followed: \(error)") }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw refuse("is not a directory") }
        guard info.st_uid == euid || info.st_uid == 0 else {
            throw refuse("is owned by uid \(info.st_uid), not by this daemon's uid \(euid) or root: its owner could replace the socket")
        }
        guard info.st_mode & 0o022 == 0 || info.st_mode & S_ISVTX != 0 else {
            throw refuse("is writable by its group or others (mode \(String(info.st_mode & 0o7777, radix: 8))) and not sticky: "
                + "they could replace the socket")
        }
    }

    /// Whether something accepts connections on the socket at `path`.
    public static func isLive(_ path: String) -> Bool {
        guard let fd = try? valueOrErrno(retryOnInterrupt: false, { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }) else {
            return false
        }
        defer { try? FileDescriptor(rawValue: fd).close() }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(maxPath).enumerated() { raw[i] = byte }
        }
        let refused = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { to in failure({ connect(fd, to, socklen_t(MemoryLayout<sockaddr_un>.size)) }) }
        }
        return refused == nil
    }

    /// Creates a listening socket bound at `path` with exactly `mode`, and returns its descriptor
    /// (non-blocking, close-on-exec) and the identity of its file. The daemon binds it itself,
    /// rather than letting NIO bind the path, because NIO unlinks whatever socket is at the path
    /// when the listener closes; the daemon removes only its own (``remove(_:boundAs:)``).
    ///
    /// The mode comes from the umask at bind (the kernel creates a socket file 0777 less the
    /// umask), not from a chmod by path afterwards, so no one ever connects through wider bits.
    /// The umask is process-wide: it is replaced for the bind call alone, on this thread, and the
    /// daemon creates no other file meanwhile.
    /// - Throws: ``ServerError/bind(path:reason:)``; then no descriptor stays open and no file
    ///   this call created remains.
    public static func bindListening(_ path: String, mode: UInt32, backlog: Int32) throws(ServerError) -> (descriptor: Int32, identity: SocketFileIdentity) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count <= maxPath else { throw .bind(path: path, reason: "a Unix socket path has 1...\(maxPath) bytes") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let fd: CInt
        do throws(Errno) {
            fd = try valueOrErrno(retryOnInterrupt: false) {
                socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            }
        } catch {
            throw .bind(path: path, reason: "cannot create a socket: \(error)")
        }
        let previous = umask(mode_t(~mode & 0o777))
        let bindError = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { to in failure({ bind(fd, to, socklen_t(MemoryLayout<sockaddr_un>.size)) }) }
        }
        umask(previous)
        if let bindError {
            try? FileDescriptor(rawValue: fd).close()
            throw .bind(path: path, reason: "bind: \(bindError)")
        }
        // Identified at once: what is at the path now is the file this bind created.
        guard let identity = SocketFileIdentity.of(path) else {
            try? FileDescriptor(rawValue: fd).close()
            throw .bind(path: path, reason: "no socket file is at the path right after bind")
        }
        do throws(ServerError) {
            if let error = failure({ listen(fd, backlog) }) { throw .bind(path: path, reason: "listen: \(error)") }
            var info = stat()
            guard lstat(path, &info) == 0, UInt32(info.st_mode & 0o777) == mode & 0o777 else {
                throw .bind(path: path, reason: "the socket was not created with mode \(String(mode & 0o777, radix: 8))")
            }
        } catch {
            try? FileDescriptor(rawValue: fd).close()
            remove(path, boundAs: identity)
            throw error
        }
        return (fd, identity)
    }

    /// Gives the socket bound at `path` as `identity` the group `gid`, without following a
    /// symlink, and checks it still is that socket afterwards.
    /// - Throws: ``ServerError/bind(path:reason:)`` if the group cannot be set or the file is no
    ///   longer that socket. The caller removes the socket it bound.
    public static func setGroup(_ path: String, _ gid: UInt32, boundAs identity: SocketFileIdentity) throws(ServerError) {
        guard SocketFileIdentity.of(path) == identity else {
            throw .bind(path: path, reason: "the socket file was replaced before its group was set")
        }
        if let error = failure({ lchown(path, uid_t.max, gid_t(gid)) }) {
            throw .bind(path: path, reason: "cannot set group \(gid): \(error)")
        }
        guard SocketFileIdentity.of(path) == identity else {
            throw .bind(path: path, reason: "the socket file was replaced while its group was set")
        }
    }

    /// Removes the socket file at shutdown (or after a failed start) if it still is the one bound
    /// as `identity`; a file another daemon bound at the path since is left alone.
    /// - Returns: whether the file was removed.
    @discardableResult
    public static func remove(_ path: String, boundAs identity: SocketFileIdentity) -> Bool {
        guard SocketFileIdentity.of(path) == identity else { return false }
        return failure({ unlink(path) }) == nil
    }

    /// The error `call` failed with, nil if it succeeded: each call here has its own message and
    /// its own expected errors. Not retried on EINTR, as none of these calls waits but connect,
    /// whose interrupted attempt goes on in the kernel and must not be made again.
    private static func failure(_ call: () -> CInt) -> Errno? {
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false, call)
            return nil
        } catch {
            return error
        }
    }
}
