// The socket file's life: a stale file left by a killed daemon is replaced, a live one (another
// daemon answers) is refused, anything that is not a socket is never touched; the mode and group
// are set after bind.

#if canImport(Glibc)
import Glibc
#endif

/// Operations on the socket's path.
enum SocketFile {
    /// Longest path a `sockaddr_un` holds.
    static let maxPath = 107

    /// Makes `path` free to bind: creates its directory if missing (mode 0755), and removes a
    /// stale socket there.
    /// - Throws: ``ServerError/socketInUse(_:)`` if a daemon answers on it,
    ///   ``ServerError/notASocket(_:)`` if it is another kind of file, ``ServerError/bind(path:reason:)``.
    static func prepare(_ path: String) throws(ServerError) {
        guard !path.isEmpty, path.utf8.count <= maxPath else {
            throw .bind(path: path, reason: "a Unix socket path has 1...\(maxPath) bytes")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let directory = String(path[..<slash])
            if access(directory, F_OK) != 0 {
                if mkdir(directory, 0o755) != 0 && errno != EEXIST {
                    throw .bind(path: path, reason: "cannot create directory \(directory): \(String(cString: strerror(errno)))")
                }
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .bind(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        if isLive(path) { throw .socketInUse(path) }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .bind(path: path, reason: "cannot remove the stale socket: \(String(cString: strerror(errno)))")
        }
    }

    /// Whether something accepts connections on the socket at `path`.
    static func isLive(_ path: String) -> Bool {
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

    /// Sets the socket file's permission bits.
    static func setMode(_ path: String, _ mode: UInt32) throws(ServerError) {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw .bind(path: path, reason: "cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
        }
    }

    /// Sets the socket file's group (the owner stays).
    static func setGroup(_ path: String, _ gid: UInt32) throws(ServerError) {
        guard chown(path, uid_t.max, gid_t(gid)) == 0 else {
            throw .bind(path: path, reason: "cannot set group \(gid): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the socket file at shutdown.
    static func remove(_ path: String) {
        var info = stat()
        if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
    }
}
