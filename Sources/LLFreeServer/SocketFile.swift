// The socket file's life: its directory must be one no other user can write to (a squatted
// directory would let its owner replace the socket and impersonate the daemon); a stale file left
// by a killed daemon is replaced, a live one (another daemon answers) is refused, anything that is
// not a socket is never touched; the daemon binds the socket itself, its mode coming from the
// umask at bind (no chmod by path, which a swapped file could redirect) and its group from
// lchown; and shutdown removes the file only if it is still the one this daemon bound (same
// device and inode).

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
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .bind(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        if isLive(path) { throw .socketInUse(path) }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .bind(path: path, reason: "cannot remove the stale socket (left in place): \(String(cString: strerror(errno)))")
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
        if lstat(directory, &link) != 0 {
            guard errno == ENOENT else { throw refuse("cannot be examined: \(String(cString: strerror(errno)))") }
            if mkdir(directory, mode) != 0 {
                guard errno == EEXIST else { throw refuse("cannot be created: \(String(cString: strerror(errno)))") }
            } else if chmod(directory, mode) != 0 {
                // mkdir applied the umask; the mode chosen above is what clients need to reach the socket.
                throw refuse("was created but its mode cannot be set to \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
            guard lstat(directory, &link) == 0 else { throw refuse("cannot be examined: \(String(cString: strerror(errno)))") }
        }
        var info = link
        if link.st_mode & S_IFMT == S_IFLNK {
            guard link.st_uid == euid || link.st_uid == 0 else {
                throw refuse("is a symlink owned by uid \(link.st_uid), not by this daemon's uid \(euid) or root: its owner could redirect it")
            }
            guard stat(directory, &info) == 0 else { throw refuse("is a symlink that cannot be followed: \(String(cString: strerror(errno)))") }
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
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(maxPath).enumerated() { raw[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
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
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .bind(path: path, reason: "cannot create a socket: \(String(cString: strerror(errno)))") }
        let previous = umask(mode_t(~mode & 0o777))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindError = errno
        umask(previous)
        guard bound == 0 else {
            close(fd)
            throw .bind(path: path, reason: "bind: \(String(cString: strerror(bindError)))")
        }
        // Identified at once: what is at the path now is the file this bind created.
        guard let identity = SocketFileIdentity.of(path) else {
            close(fd)
            throw .bind(path: path, reason: "no socket file is at the path right after bind")
        }
        do throws(ServerError) {
            guard listen(fd, backlog) == 0 else { throw .bind(path: path, reason: "listen: \(String(cString: strerror(errno)))") }
            var info = stat()
            guard lstat(path, &info) == 0, UInt32(info.st_mode & 0o777) == mode & 0o777 else {
                throw .bind(path: path, reason: "the socket was not created with mode \(String(mode & 0o777, radix: 8))")
            }
        } catch {
            close(fd)
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
        guard lchown(path, uid_t.max, gid_t(gid)) == 0 else {
            throw .bind(path: path, reason: "cannot set group \(gid): \(String(cString: strerror(errno)))")
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
        return unlink(path) == 0
    }

}
