// Socket activation without libsystemd (the sd_listen_fds protocol): when LISTEN_PID is this
// process, LISTEN_FDS descriptors starting at 3 were passed by systemd; llfreed serves on the
// single Unix stream socket its .socket unit listens on instead of binding its own.

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import LLFreeServer
import Glibc
#endif

/// Sockets passed by the service manager.
public enum SocketActivation {
    /// The first passed descriptor (SD_LISTEN_FDS_START).
    public static let firstDescriptor: Int32 = 3

    /// The listening Unix stream socket passed to this process, or nil if none was passed (no
    /// LISTEN_FDS, or LISTEN_PID names another process: the variables were inherited, not meant
    /// for us). Marks it close-on-exec.
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - pid: this process's id.
    ///   - first: the number of the first passed descriptor (3 under systemd).
    /// - Throws: ``SocketActivationError`` if sockets were passed but not exactly one listening
    ///   Unix stream socket; nothing was closed or changed.
    public static func listener(environment: [String: String], pid: Int32 = getpid(),
                                first: Int32 = firstDescriptor) throws(SocketActivationError) -> PassedSocket? {
        guard let pidText = environment["LISTEN_PID"], let countText = environment["LISTEN_FDS"] else { return nil }
        guard let listenPID = Int32(pidText) else { throw .malformed("LISTEN_PID=\(pidText) is not a process id") }
        guard listenPID == pid else { return nil }
        guard let count = Int32(countText), count >= 0 else { throw .malformed("LISTEN_FDS=\(countText) is not a count") }
        if count == 0 { return nil }
        guard count == 1 else {
            throw .malformed("LISTEN_FDS=\(count): llfreed serves one socket; its socket unit must have exactly one ListenStream=")
        }
        let fd = first
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        var info = stat()
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false) { fstat(fd, &info) }
        } catch {
            throw .notUsable(fd, "fstat: \(error)")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notUsable(fd, "not a socket") }
        guard option(fd, SO_DOMAIN) == AF_UNIX else { throw .notUsable(fd, "not an AF_UNIX socket") }
        guard option(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue) else { throw .notUsable(fd, "not a stream socket (ListenStream=)") }
        guard option(fd, SO_ACCEPTCONN) == 1 else { throw .notUsable(fd, "not listening") }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        return PassedSocket(descriptor: fd, path: boundPath(fd), name: names.first)
    }

    /// Removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from the environment, so that nothing
    /// this process starts mistakes them for its own.
    public static func unsetEnvironment() {
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
    }

    static func option(_ fd: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 else { return nil }
        return value
    }

    /// The path the socket is bound to ("@name" for an abstract one), nil if unnamed.
    static func boundPath(_ fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let pathLength = Int(length) - MemoryLayout<sa_family_t>.size
        guard result == 0, pathLength > 0 else { return nil }
        return withUnsafeBytes(of: &address.sun_path) { raw -> String in
            let bytes = Array(raw.prefix(pathLength))
            if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst(), as: UTF8.self) }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

// Why the sockets systemd passed cannot be served.

/// Passed sockets llfreed cannot serve on. Nothing was closed or changed.
public enum SocketActivationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The LISTEN_* variables are not what the protocol specifies, or name more than one socket.
    case malformed(String)
    /// The passed descriptor is not a listening Unix stream socket.
    case notUsable(Int32, String)

    public var description: String {
        switch self {
        case .malformed(let why): return "socket activation: \(why)"
        case .notUsable(let fd, let why): return "socket activation: descriptor \(fd) is \(why); llfreed needs a listening AF_UNIX stream socket (ListenStream=/path)"
        }
    }
}
