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
