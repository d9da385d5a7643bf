// Typed errors of starting and running the server.

/// Why the server could not start (nothing was left behind: no socket file it created remains).
public enum ServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another daemon answers on the socket path; it was left alone.
    case socketInUse(String)
    /// The socket path exists and is not a socket; it was left alone.
    case notASocket(String)
    /// Binding or preparing the socket failed.
    case bind(path: String, reason: String)
    /// The configuration is inconsistent.
    case invalidConfiguration(String)
    /// Something that should not fail did.
    case internalError(String)

    public var description: String {
        switch self {
        case .socketInUse(let path): return "\(path): another daemon is serving on this socket; it was left untouched"
        case .notASocket(let path): return "\(path) exists and is not a socket; it was left untouched"
        case .bind(let path, let reason): return "\(path): cannot serve on this socket: \(reason)"
        case .invalidConfiguration(let why): return "invalid configuration: \(why)"
        case .internalError(let why): return "internal error: \(why)"
        }
    }
}
