// sd_notify without libsystemd: the documented protocol is one datagram of "KEY=VALUE" lines
// sent to the AF_UNIX socket named by NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace). Tells systemd READY=1 after recovery once the socket is served, STATUS= lines,
// STOPPING=1 at shutdown, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import LLFreeServer
import Glibc
#endif

/// Sends state changes to the service manager.
public struct SystemdNotifier: Sendable {
    /// The NOTIFY_SOCKET value: a path, or "@" and an abstract socket name.
    public let socket: String

    /// The notifier for `environment`'s NOTIFY_SOCKET; nil when it is unset or empty (not run
    /// by systemd as Type=notify), in which case there is no one to tell.
    public init?(environment: [String: String]) {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
        self.socket = socket
    }

    /// A notifier for an explicit socket address.
    public init(socket: String) {
        self.socket = socket
    }

    /// `READY=1` with a status line: startup (recovery included) is finished and clients are served.
    public func ready(status: String) throws(SystemdNotifyError) {
        try send(["READY=1", "STATUS=" + Self.line(status), "MAINPID=\(getpid())"])
    }

    /// A free-form status line for `systemctl status`.
    public func status(_ text: String) throws(SystemdNotifyError) {
        try send(["STATUS=" + Self.line(text)])
    }

    /// `STOPPING=1`: a graceful shutdown began.
    public func stopping(status: String) throws(SystemdNotifyError) {
        try send(["STOPPING=1", "STATUS=" + Self.line(status)])
    }

    /// `WATCHDOG=1`: the daemon is alive.
    public func watchdog() throws(SystemdNotifyError) {
        try send(["WATCHDOG=1"])
    }

    /// Sends the assignments as one datagram.
    public func send(_ assignments: [String]) throws(SystemdNotifyError) {
        let message = assignments.joined(separator: "\n")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socket.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard socket.hasPrefix("/") || abstract, path.count < capacity else {
            throw SystemdNotifyError(socket: socket, reason: "not an absolute path or @abstract name of at most \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        // A path is NUL-terminated within the length; an abstract name is exactly its bytes.
        let length = MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1)
        let fd: CInt
        do throws(Errno) {
            fd = try valueOrErrno(retryOnInterrupt: false) { Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        } catch {
            throw SystemdNotifyError(socket: socket, reason: "socket: \(error)")
        }
        defer { try? FileDescriptor(rawValue: fd).close() }
        let sent: Int
        do throws(Errno) {
            sent = try valueOrErrno(retryOnInterrupt: false) {
                message.withCString { text in
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, text, strlen(text), Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                        }
                    }
                }
            }
        } catch {
            throw SystemdNotifyError(socket: socket, reason: "sendto: \(error)")
        }
        guard sent == message.utf8.count else { throw SystemdNotifyError(socket: socket, reason: "short send") }
    }

    /// The keep-alive interval systemd expects: half of WATCHDOG_USEC (as sd_watchdog_enabled
    /// advises), nil when no watchdog is set or WATCHDOG_PID names another process.
    public static func watchdogInterval(environment: [String: String], pid: Int32 = getpid()) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// Status text as one line (a newline would start another assignment).
    static func line(_ text: String) -> String {
        String(text.map { $0 == "\n" ? " " : $0 })
    }
}

// Why a notification could not be sent to systemd.

/// A failed sd_notify. The daemon's state is unaffected; only systemd was not told.
public struct SystemdNotifyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The NOTIFY_SOCKET value.
    public let socket: String
    /// What failed.
    public let reason: String

    public var description: String { "cannot notify systemd at NOTIFY_SOCKET=\(socket): \(reason)" }
}
