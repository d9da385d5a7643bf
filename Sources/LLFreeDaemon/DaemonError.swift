// Typed errors of the daemon's start and stop.

import LLFreeServer
import LLFreePool

/// Why llfreed could not start or stop cleanly.
public enum DaemonError: Error, Sendable, CustomStringConvertible {
    /// The pool is missing and --create was not given; nothing was created.
    case poolMissing(String)
    /// --create without a size for a missing pool; nothing was created.
    case sizeMissing(String)
    /// The pool could not be created, opened or closed.
    case pool(PoolError)
    /// The server could not start or run.
    case server(ServerError)
    /// The service group failed.
    case failed(String)

    public var description: String {
        switch self {
        case .poolMissing(let path): return "\(path): no such pool; start with --create --size SIZE to create it (nothing was created)"
        case .sizeMissing(let path): return "\(path): no such pool and no --size to create it with (nothing was created)"
        case .pool(let error): return "\(error)"
        case .server(let error): return "\(error)"
        case .failed(let why): return why
        }
    }
}
